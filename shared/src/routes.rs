//! The route table: which method and path reach which handler, and which Lambda function
//! serves it. The local server dispatches through it; a test checks `template.yaml` against it.

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt, Response};

use crate::domain::secrets::ct_eq;
use crate::error::Error;
use crate::error::error_response;
use crate::handlers::{self, Service};
use crate::ports::{CallPlacer, Clock, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    SendOtp,
    VerifyOtp,
    OtpStatus,
    CancelOtp,
    Answer,
    OtpChoice,
    Hangup,
}

impl Route {
    /// App routes need the API key; webhooks are open (they carry their token).
    pub fn is_app(self) -> bool {
        matches!(
            self,
            Route::SendOtp | Route::VerifyOtp | Route::OtpStatus | Route::CancelOtp
        )
    }

    /// The route's name in logs and metrics, which is also its Lambda function's name and the
    /// first segment of its path.
    pub fn name(self) -> &'static str {
        match self {
            Route::SendOtp => "send-otp",
            Route::VerifyOtp => "verify-otp",
            Route::OtpStatus => "otp-status",
            Route::CancelOtp => "cancel-otp",
            Route::Answer => "answer",
            Route::OtpChoice => "otp-choice",
            Route::Hangup => "hangup",
        }
    }
}

/// One row of the route table.
#[derive(Debug)]
pub struct RouteSpec {
    pub route: Route,
    pub method: &'static str,
    /// API Gateway path template.
    pub path: &'static str,
    /// The Lambda function (binary) that serves it.
    pub function: &'static str,
    /// App routes need the API key; webhooks are open (they carry their token).
    pub app: bool,
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        route: Route::SendOtp,
        method: "POST",
        path: "/send-otp",
        function: "send-otp",
        app: true,
    },
    RouteSpec {
        route: Route::VerifyOtp,
        method: "POST",
        path: "/verify-otp",
        function: "verify-otp",
        app: true,
    },
    RouteSpec {
        route: Route::OtpStatus,
        method: "GET",
        path: "/otp-status/{phone}",
        function: "otp-status",
        app: true,
    },
    RouteSpec {
        route: Route::CancelOtp,
        method: "POST",
        path: "/cancel-otp",
        function: "cancel-otp",
        app: true,
    },
    RouteSpec {
        route: Route::Answer,
        method: "POST",
        path: "/answer/{token}",
        function: "answer",
        app: false,
    },
    RouteSpec {
        route: Route::Answer,
        method: "POST",
        path: "/answer",
        function: "answer",
        app: false,
    },
    RouteSpec {
        route: Route::OtpChoice,
        method: "POST",
        path: "/otp-choice/{token}",
        function: "otp-choice",
        app: false,
    },
    RouteSpec {
        route: Route::OtpChoice,
        method: "POST",
        path: "/otp-choice",
        function: "otp-choice",
        app: false,
    },
    RouteSpec {
        route: Route::Hangup,
        method: "POST",
        path: "/hangup/{token}",
        function: "hangup",
        app: false,
    },
    RouteSpec {
        route: Route::Hangup,
        method: "POST",
        path: "/hangup",
        function: "hangup",
        app: false,
    },
];

/// Matches a method and path against [`ROUTES`]; returns the route and its path parameters.
pub fn match_route(method: &str, path: &str) -> Result<(Route, HashMap<String, String>), Error> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut path_matched = false;
    for spec in ROUTES {
        let pattern: Vec<&str> = spec.path.split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = HashMap::new();
        let fits =
            pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !s.is_empty() => {
                        params.insert(name.to_owned(), (*s).to_owned());
                        true
                    }
                    Some(_) => false,
                    None => p == s,
                });
        if fits {
            if spec.method.eq_ignore_ascii_case(method) {
                return Ok((spec.route, params));
            }
            path_matched = true;
        }
    }
    Err(if path_matched {
        Error::MethodNotAllowed
    } else {
        Error::NoRoute
    })
}

/// The methods some route allows on `path`.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES
        .iter()
        .map(|r| r.method)
        .filter(|m| match_route(m, path).is_ok())
        .collect();
    methods.dedup();
    methods
}

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
        Route::Answer => handlers::answer(svc, req).await,
        Route::OtpChoice => handlers::otp_choice(svc, req).await,
        Route::Hangup => handlers::hangup(svc, req).await,
    };
    match result {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_routes_and_parameters() {
        let (r, p) = match_route("POST", "/answer/abc").unwrap();
        assert_eq!((r, p["token"].as_str()), (Route::Answer, "abc"));
        assert_eq!(match_route("POST", "/answer").unwrap().0, Route::Answer);
        assert_eq!(
            match_route("GET", "/otp-status/%2B919876543210").unwrap().1["phone"],
            "%2B919876543210"
        );
        assert_eq!(match_route("POST", "/send-otp/").unwrap().0, Route::SendOtp);
        assert!(matches!(match_route("GET", "/send-otp"), Err(Error::MethodNotAllowed)));
        assert!(matches!(match_route("POST", "/nope"), Err(Error::NoRoute)));
        assert!(matches!(match_route("POST", "/answer/a/b"), Err(Error::NoRoute)));
        assert_eq!(allowed_methods("/send-otp"), ["POST"]);
        assert_eq!(allowed_methods("/otp-status/+91"), ["GET"]);
        assert!(allowed_methods("/nowhere").is_empty());
        for spec in ROUTES {
            assert_eq!(spec.route.is_app(), spec.app, "{}", spec.path);
            assert_eq!(spec.route.name(), spec.function, "{}", spec.path);
            assert!(spec.path[1..].starts_with(spec.route.name()), "{}", spec.path);
        }
    }
}
