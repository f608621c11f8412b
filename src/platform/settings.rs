//! Terraform and provider settings: pinned versions, the state backend, tags, the emulator.

use aws::provider::{Emulator, Provider};
use aws::Stack;
use tf::{Block, Tf};

use crate::config::{Backend, EnvConfig};

/// Pinned tool versions: `use_lockfile` needs Terraform 1.10.
const TERRAFORM_VERSION: &str = ">= 1.10, < 2.0";
const AWS_PROVIDER_VERSION: &str = "~> 5.100";

pub fn add(stack: &mut Stack, env: &EnvConfig) {
    let doc = stack.doc();
    doc.terraform("required_version", TERRAFORM_VERSION);
    doc.terraform(
        "required_providers",
        Tf::object([(
            "aws",
            Tf::object([
                ("source", "hashicorp/aws"),
                ("version", AWS_PROVIDER_VERSION),
            ]),
        )]),
    );
    match &env.backend {
        Some(Backend::S3 {
            bucket,
            key,
            region,
        }) => doc.terraform(
            "backend",
            Tf::object([(
                "s3",
                Block::new()
                    .set("bucket", bucket.as_str())
                    .set("key", key.as_str())
                    .set("region", region.as_str())
                    .set("encrypt", true)
                    .set("use_lockfile", true),
            )]),
        ),
        Some(Backend::Local { path }) => doc.terraform(
            "backend",
            Tf::object([("local", Block::new().set("path", path.as_str()))]),
        ),
        None => {}
    }
    let mut default_tags = env.tags.clone();
    default_tags.insert("Project".into(), "shipstack".into());
    default_tags.insert("Environment".into(), env.name.clone());
    default_tags.insert("ManagedBy".into(), "terraform".into());
    stack.add(Provider {
        default_tags,
        emulator: env.emulator.as_ref().map(|emulator| Emulator {
            endpoint: emulator.endpoint.clone(),
        }),
    });
}
