//! The local server's API Gateway: a request goes to the handler its route names
//! ([`crate::routes::ROUTES`]), app routes behind the API key, as the deployed API does.

use lambda_http::{Body, Request, RequestExt, Response};

use crate::domain::secrets::ct_eq;
use crate::error::{Error, error_response};
use crate::handlers;
use crate::ports::{CallPlacer, Clock, Store};
use crate::routes::{Route, allowed_methods, match_route};
use crate::service::Service;

/// Routes a request to its handler, the way API Gateway does for the Lambda functions.
pub async fn dispatch<S: Store, K: Clock, C: CallPlacer>(
    svc: &Service<S, K>,
    calls: &C,
    req: Request,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let refuse = |e: Error| {
        tracing::info!(
            route = "router",
            outcome = e.code(),
            status = e.status().as_u16(),
            "handled"
        );
        let mut resp = error_response(&e);
        if matches!(e, Error::MethodNotAllowed) {
            // RFC 9110: a 405 names the methods the resource does allow.
            if let Ok(allow) = allowed_methods(&path).join(", ").parse() {
                resp.headers_mut().insert("allow", allow);
            }
        }
        resp
    };
    let (route, params) = match match_route(req.method().as_str(), req.uri().path()) {
        Ok(found) => found,
        Err(e) => return refuse(e),
    };
    if route.is_app()
        && let Some(expected) = &svc.app_api_key
    {
        let given = req
            .headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct_eq(given, expected) {
            return refuse(Error::Unauthorized);
        }
    }
    let req = req.with_path_parameters(params);
    let result = match route {
        Route::SendOtp => handlers::send_otp(svc, calls, req).await,
        Route::VerifyOtp => handlers::verify_otp(svc, req).await,
        Route::OtpStatus => handlers::otp_status(svc, req).await,
        Route::CancelOtp => handlers::cancel_otp(svc, req).await,
        Route::EraseNumber => handlers::erase_number(svc, req).await,
        Route::Answer => handlers::answer(svc, req).await,
        Route::OtpChoice => handlers::otp_choice(svc, req).await,
        Route::Hangup => handlers::hangup(svc, req).await,
    };
    match result {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}
