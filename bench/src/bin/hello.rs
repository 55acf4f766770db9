//! The floor for init and for the runtime's own per-invoke cost: a bare `lambda_runtime`
//! function (through `lambda_http`'s re-export, so the same crate versions and features as the
//! functions), built with the same profile. It builds no client, reads no configuration and
//! answers every event with a fixed API Gateway response.

use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hello", "isBase64Encoded": false}))
    }))
    .await
}
