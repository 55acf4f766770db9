//! Lambda function `otp-events`: wiring only; the handler is `shared::lambda::on_stream`. It
//! reads the table's DynamoDB stream and delivers the events each change means (EventBridge,
//! and the app's webhook when configured). Nothing here is on the path Vobiz waits on.

use aws_lambda_events::event::dynamodb::Event;
use lambda_http::lambda_runtime::{Error, LambdaEvent, run, service_fn};

// One batch at a time, on a fraction of a vCPU: worker threads would only cost init time.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let svc = shared::lambda::events_service()?;
    run(service_fn(|event: LambdaEvent<Event>| {
        shared::lambda::on_stream(&svc, event.payload)
    }))
    .await
}
