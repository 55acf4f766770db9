//! Lambda function `otp-choice`: wiring only; the handler is `shared::handlers::otp_choice`.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let svc = shared::lambda::service().await?;
    run(service_fn(|req| shared::handlers::otp_choice(&svc, req))).await
}
