//! Lambda function `send-otp`: wiring only; the handler is `shared::handlers::send_otp`.

use lambda_http::{Error, run, service_fn};

// One event at a time, on a fraction of a vCPU: worker threads would only cost init time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let (svc, calls) = shared::lambda::service_with_calls().await?;
    run(service_fn(|req| shared::handlers::send_otp(&svc, &calls, req))).await
}
