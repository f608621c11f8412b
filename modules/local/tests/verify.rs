//! `shipstack-local verify` passes on the platform as rendered: every seed's producer reaches
//! the table, the second plan has only emulator quirks, destroy is clean.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_the_rendered_platform() {
    let failures = local::verify::run().await.expect("verify runs");
    assert!(failures.is_empty(), "{failures:#?}");
}
