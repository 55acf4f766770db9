//! Lambda function `otp-status`: wiring only; the handler is `shared::handlers::otp_status`.

use lambda_http::{Error, run, service_fn};

// One event at a time, on a fraction of a vCPU: worker threads would only cost init time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let svc = shared::lambda::read_only_service().await?;
    run(service_fn(|req| shared::handlers::otp_status(&svc, req))).await
}
