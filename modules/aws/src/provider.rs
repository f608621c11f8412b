//! The `aws` provider configuration, and the emulator profile: what a stack renders when it is
//! applied to an emulated AWS (moto) instead of an account.

use std::collections::BTreeMap;

use tf::{Block, Tf, Variable};

use crate::{Component, Stack};

/// The `aws` provider of a root module: region and tags every resource carries.
#[derive(Clone, Debug)]
pub struct Provider {
    pub default_tags: BTreeMap<String, String>,
    /// Point every service at an emulator instead of an account.
    pub emulator: Option<Emulator>,
}

/// An emulated AWS. Under one, the local harness plays Lambda's event source pollers, so each
/// mapping is rendered in the form the harness reads (see [`crate::lambda::FunctionRef`]).
#[derive(Clone, Debug)]
pub struct Emulator {
    /// Default of the `emulator_endpoint` variable (a harness picks a free port).
    pub endpoint: String,
}

/// Services the components use, as the provider's `endpoints` block names them.
const SERVICES: [&str; 13] = [
    "apigateway",
    "apigatewayv2",
    "cloudwatch",
    "cloudwatchevents",
    "cloudwatchlogs",
    "dynamodb",
    "iam",
    "kms",
    "lambda",
    "s3",
    "sns",
    "sqs",
    "sts",
];

impl Component for Provider {
    type Handle = ();

    fn add_to(self, stack: &mut Stack) {
        let mut provider = Block::new().set("region", stack.region()).block(
            "default_tags",
            Block::new().set("tags", Tf::object(self.default_tags)),
        );
        if let Some(emulator) = self.emulator {
            // Mappings and schedule targets read the profile when they are added: one added
            // before would be played by the emulator itself.
            if stack.doc().resources().any(|(r, _)| {
                matches!(
                    r.resource_type(),
                    "aws_lambda_event_source_mapping" | "aws_cloudwatch_event_target"
                )
            }) {
                stack.doc().report(
                    "the emulator provider is added after an event source mapping or rule target: add it first",
                );
            }
            stack.emulated = true;
            let endpoint = stack.doc().variable(
                "emulator_endpoint",
                Variable {
                    r#type: "string",
                    description: "URL of the emulated AWS (moto server)",
                    default: Some(emulator.endpoint.into()),
                    ..Default::default()
                },
            );
            // No account lookups and no credentials: Terraform takes them from its environment
            // (the local harness runs it as the emulator's admin user, since moto enforces IAM).
            provider = provider
                .set("skip_credentials_validation", true)
                .set("skip_metadata_api_check", "true")
                .set("skip_requesting_account_id", true)
                .set("s3_use_path_style", true)
                .block(
                    "endpoints",
                    Block::new().set_all(SERVICES.map(|s| (s, endpoint.clone()))),
                );
        }
        stack.doc().provider("aws", provider);
    }
}
