//! Lambda function `erase-number`: wiring only; the handler is `shared::handlers::erase_number`.

use lambda_http::{Error, run, service_fn};

// One event at a time, on a fraction of a vCPU: worker threads would only cost init time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Erasing uses no key: no OTP_SECRET (see `read_only_service`).
    let svc = shared::lambda::read_only_service().await?;
    run(service_fn(|req| shared::handlers::erase_number(&svc, req))).await
}
