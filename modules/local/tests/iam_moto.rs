//! moto with IAM enforced (`Moto::start_iam`): what the end-to-end test relies on, checked
//! quickly and on its own. Needs `scripts/setup-python` (moto).

mod support;

use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementRequest};
use local::faults::iam_api;
use local::sdk_clients::{self, form_encode, Clients};
use local::Moto;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_and_the_admin_may_do_anything() {
    let moto = Moto::start_iam()
        .await
        .expect("moto (scripts/setup-python)");
    let endpoint = moto.endpoint();
    let admin = Clients::new(&endpoint).await;

    // The test keys are refused; the admin's work, body-less GETs included.
    let refused = Clients::with_credentials(&endpoint, sdk_clients::test_credentials()).await;
    let error = refused.dynamodb.list_tables().send().await.unwrap_err();
    assert_eq!(
        error.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{error:?}"
    );
    admin.dynamodb.list_tables().send().await.unwrap();
    admin.lambda.list_functions().send().await.unwrap();
    admin.apigateway.get_rest_apis().send().await.unwrap();

    support::create_table(&admin.dynamodb, false).await;
    let queue = |name: &'static str| {
        let sqs = admin.sqs.clone();
        async move {
            sqs.create_queue()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url()
                .unwrap()
                .to_owned()
        }
    };
    let (granted, other) = (queue("granted").await, queue("other").await);
    let topic = admin
        .sns
        .create_topic()
        .name("n")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    for url in [&granted, &other] {
        admin
            .sqs
            .send_message()
            .queue_url(url)
            .message_body("m")
            .send()
            .await
            .unwrap();
    }

    // A Lambda execution role (Service trust), ARN-scoped like the platform's grants.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:PartiQLInsert"],
         "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"},
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
         "Resource": "arn:aws:sqs:us-east-1:123456789012:granted"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
    ]});
    let created = iam_api(
        &endpoint,
        &format!(
            "Action=CreateRole&RoleName=fn&AssumeRolePolicyDocument={}",
            form_encode(&trust.to_string())
        ),
    )
    .await
    .unwrap();
    let role_arn = sdk_clients::xml_text(&created, "Arn").unwrap().to_owned();
    iam_api(
        &endpoint,
        &format!(
            "Action=PutRolePolicy&RoleName=fn&PolicyName=p&PolicyDocument={}",
            form_encode(&policy.to_string())
        ),
    )
    .await
    .unwrap();
    let session = sdk_clients::assume_role(&endpoint, &moto.credentials(), &role_arn, "lambda-fn")
        .await
        .unwrap();
    let role = Clients::with_credentials(&endpoint, session).await;

    role.dynamodb
        .put_item()
        .table_name("t")
        .item("k", AttributeValue::S("a b".into()))
        .send()
        .await
        .expect("granted (moto checks DynamoDB on the action only)");
    let insert = |key: &str| {
        BatchStatementRequest::builder()
            .statement(r#"INSERT INTO "t" VALUE {'k': ?}"#)
            .parameters(AttributeValue::S(key.into()))
            .build()
            .unwrap()
    };
    let answer = role
        .dynamodb
        .batch_execute_statement()
        .statements(insert("a b"))
        .statements(insert("c"))
        .send()
        .await
        .expect("a batch of INSERTs is authorised by dynamodb:PartiQLInsert");
    let codes: Vec<_> = answer
        .responses()
        .iter()
        .map(|response| response.error().and_then(|e| e.code()).map(|c| c.as_str()))
        .collect();
    assert_eq!(
        codes,
        [Some("DuplicateItem"), None],
        "the existing key refused (launch.py patch 6), the new one written"
    );
    let denied = role
        .dynamodb
        .get_item()
        .table_name("t")
        .key("k", AttributeValue::S("a b".into()))
        .send()
        .await
        .unwrap_err();
    assert!(access_denied(&denied), "{denied:?}");
    role.dynamodb
        .describe_endpoints()
        .send()
        .await
        .expect("DescribeEndpoints is not authorised, as on DynamoDB's public endpoints");
    role.sns
        .publish()
        .topic_arn(&topic)
        .message("a message with spaces ~ * !")
        .send()
        .await
        .expect("sns:Publish granted (query protocol, signed raw body)");
    let batch = role
        .sns
        .publish_batch()
        .topic_arn(&topic)
        .publish_batch_request_entries(
            aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                .id("0")
                .message("batched")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PublishBatch is authorised by sns:Publish");
    assert_eq!(batch.successful().len(), 1, "{batch:?}");

    let received = role
        .sqs
        .receive_message()
        .queue_url(&granted)
        .send()
        .await
        .expect("sqs:ReceiveMessage on the granted queue");
    let message = &received.messages()[0];
    role.sqs
        .delete_message_batch()
        .queue_url(&granted)
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("0")
                .receipt_handle(message.receipt_handle().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("DeleteMessageBatch is authorised by sqs:DeleteMessage");
    let denied = role
        .sqs
        .receive_message()
        .queue_url(&other)
        .send()
        .await
        .expect_err("SQS resources are checked: not granted on the other queue");
    assert!(access_denied(&denied), "{denied:?}");
}

/// A 403 whose body is moto's `AccessDenied` (not, say, a signature mismatch, also a 403).
fn access_denied<E>(
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    err.raw_response().is_some_and(|response| {
        response.status().as_u16() == 403
            && response.body().bytes().is_some_and(|body| {
                String::from_utf8_lossy(body).contains("<Code>AccessDenied</Code>")
            })
    })
}
