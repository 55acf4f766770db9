//! The route table: which method and path reach which handler, and which Lambda function
//! serves it. [`crate::router`] dispatches through it on the local server; a test checks
//! `template.yaml` against it.

use std::collections::HashMap;

use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    SendOtp,
    VerifyOtp,
    OtpStatus,
    CancelOtp,
    EraseNumber,
    Answer,
    OtpChoice,
    Hangup,
}

impl Route {
    /// App routes need the API key; webhooks are open (they carry their token).
    pub fn is_app(self) -> bool {
        matches!(
            self,
            Route::SendOtp | Route::VerifyOtp | Route::OtpStatus | Route::CancelOtp | Route::EraseNumber
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
            Route::EraseNumber => "erase-number",
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
}

impl RouteSpec {
    /// The Lambda function (binary) that serves it: its route's name.
    pub fn function(&self) -> &'static str {
        self.route.name()
    }

    /// App routes need the API key; webhooks are open (they carry their token).
    pub fn app(&self) -> bool {
        self.route.is_app()
    }
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        route: Route::SendOtp,
        method: "POST",
        path: "/send-otp",
    },
    RouteSpec {
        route: Route::VerifyOtp,
        method: "POST",
        path: "/verify-otp",
    },
    RouteSpec {
        route: Route::OtpStatus,
        method: "GET",
        path: "/otp-status/{phone}",
    },
    RouteSpec {
        route: Route::CancelOtp,
        method: "POST",
        path: "/cancel-otp",
    },
    RouteSpec {
        route: Route::EraseNumber,
        method: "POST",
        path: "/erase-number",
    },
    RouteSpec {
        route: Route::Answer,
        method: "POST",
        path: "/answer/{token}",
    },
    RouteSpec {
        route: Route::Answer,
        method: "POST",
        path: "/answer",
    },
    RouteSpec {
        route: Route::OtpChoice,
        method: "POST",
        path: "/otp-choice/{token}",
    },
    RouteSpec {
        route: Route::OtpChoice,
        method: "POST",
        path: "/otp-choice",
    },
    RouteSpec {
        route: Route::Hangup,
        method: "POST",
        path: "/hangup/{token}",
    },
    RouteSpec {
        route: Route::Hangup,
        method: "POST",
        path: "/hangup",
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
            assert!(spec.path[1..].starts_with(spec.route.name()), "{}", spec.path);
        }
    }
}
