//! Lambda function `cancel-otp`: wiring only; the handler is `shared::handlers::cancel_otp`.

use lambda_http::{Error, run, service_fn};

// One event at a time, on a fraction of a vCPU: worker threads would only cost init time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Cancelling uses no key: no OTP_SECRET (see `read_only_service`).
    let svc = shared::lambda::read_only_service().await?;
    run(service_fn(|req| shared::handlers::cancel_otp(&svc, req))).await
}
