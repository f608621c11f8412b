//! The launcher's DynamoDB writes under concurrency (`launch.py` patch 7): what the stream
//! poller and the exactly-once checks of the end-to-end test rely on. Needs
//! `scripts/setup-python` (moto).

mod support;

use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementRequest};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use futures_util::future::join_all;
use local::sdk_clients::Clients;
use local::Moto;

const WRITERS: usize = 8;
const BATCHES: usize = 8;
/// BatchExecuteStatement's limit.
const STATEMENTS: usize = 25;

/// One writer's batches: keys `w<writer>-<n>`, each with a 16 KB attribute so a write takes
/// long enough for moto's threads to interleave.
async fn write(admin: &Clients, writer: usize) -> (usize, usize) {
    let (mut written, mut refused) = (0, 0);
    for batch in 0..BATCHES {
        let statements = (0..STATEMENTS).map(|n| {
            BatchStatementRequest::builder()
                .statement(r#"INSERT INTO "t" VALUE {'k': ?, 'payload': ?}"#)
                .parameters(AttributeValue::S(format!(
                    "w{writer}-{}",
                    batch * STATEMENTS + n
                )))
                .parameters(AttributeValue::S("x".repeat(16 * 1024)))
                .build()
                .unwrap()
        });
        let output = admin
            .dynamodb
            .batch_execute_statement()
            .set_statements(Some(statements.collect()))
            .send()
            .await
            .unwrap();
        for response in output.responses() {
            match response.error() {
                None => written += 1,
                Some(error) => {
                    assert_eq!(error.code().map(|c| c.as_str()), Some("DuplicateItem"));
                    refused += 1;
                }
            }
        }
    }
    (written, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_insert_batches_write_each_key_once_and_number_the_stream_in_order() {
    let moto = Moto::start().expect("moto (scripts/setup-python)");
    let admin = Clients::new(&moto.endpoint()).await;
    let stream_arn = support::create_table(&admin.dynamodb, true)
        .await
        .expect("a stream");

    // Each writer's keys are sent twice at once: one insert per key wins.
    let writers = (0..2 * WRITERS).map(|i| write(&admin, i % WRITERS));
    let (written, refused) = join_all(writers)
        .await
        .into_iter()
        .fold((0, 0), |(w, r), (dw, dr)| (w + dw, r + dr));
    let keys = WRITERS * BATCHES * STATEMENTS;
    assert_eq!((written, refused), (keys, keys), "(written, refused)");

    // The stream, as the harness's poller reads it: one INSERT per key, numbers increasing,
    // and an empty read once it is caught up.
    let shard = admin
        .streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap()
        .stream_description()
        .unwrap()
        .shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();
    let mut iterator = admin
        .streams
        .get_shard_iterator()
        .stream_arn(&stream_arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    let mut numbers: Vec<u128> = Vec::new();
    loop {
        let output = admin
            .streams
            .get_records()
            .shard_iterator(&iterator)
            .limit(100)
            .send()
            .await
            .unwrap();
        let records = output.records();
        if records.is_empty() {
            break;
        }
        numbers.extend(records.iter().map(|r| {
            let number = r.dynamodb().and_then(|d| d.sequence_number()).unwrap();
            number.parse::<u128>().unwrap()
        }));
        assert!(numbers.len() <= 2 * keys, "the stream does not end");
        iterator = output.next_shard_iterator().unwrap().to_owned();
    }
    assert_eq!(numbers.len(), keys, "one stream record per key");
    let repeated = numbers.windows(2).filter(|w| w[0] >= w[1]).count();
    assert_eq!(repeated, 0, "sequence numbers not increasing");
}
