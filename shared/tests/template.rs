//! `template.yaml` (the SAM template) checked against the code, offline:
//!
//! - the API events and [`ROUTES`] are the same set of (method, path, function) rows;
//! - every function builds a workspace binary `functions/<name>`, and every such crate is deployed;
//! - app routes need the API key, webhook routes do not;
//! - every environment variable a function gets is in [`VARIABLES`] (or in AWS's own `AWS_`
//!   namespace); secrets arrive only as Secrets Manager dynamic references, and only where needed;
//! - IAM: explicit statements on the table only, and `otp-status` can only read;
//! - every `Ref`, `GetAtt` and `Sub` names a parameter or resource that exists (cfn-lint does not
//!   check references inside SAM functions; `scripts/lint.sh` runs the AWS linters).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};
use shared::config::VARIABLES;
use shared::routes::ROUTES;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn load_template() -> Value {
    let path = root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("template.yaml does not parse: {e}"))
}

/// The tag of a short-form intrinsic (`!Ref` gives `Ref`), if any.
fn tag_of(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string().trim_start_matches('!').to_owned()),
        _ => None,
    }
}

fn mapping<'a>(v: &'a Value, what: &str) -> &'a Mapping {
    v.as_mapping().unwrap_or_else(|| panic!("{what} is not a mapping"))
}

fn str_at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str)
}

fn resources(t: &Value) -> BTreeMap<String, &Value> {
    mapping(&t["Resources"], "Resources")
        .iter()
        .map(|(k, v)| (k.as_str().expect("logical id").to_owned(), v))
        .collect()
}

fn resources_of_type<'a>(t: &'a Value, ty: &str) -> BTreeMap<String, &'a Value> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .collect()
}

#[derive(Debug)]
struct Event {
    id: String,
    method: String,
    path: String,
    api_key_required: bool,
}

#[derive(Debug)]
struct Function {
    id: String,
    binary: String,
    events: Vec<Event>,
    /// The properties of its DynamoDB stream event source (otp-events only).
    stream: Option<Value>,
    /// Environment variables: `Globals.Function` merged with the function's own.
    env: BTreeMap<String, Value>,
    statements: Vec<Value>,
}

fn functions(t: &Value) -> Vec<Function> {
    let apis = resources_of_type(t, "AWS::Serverless::Api");
    let global_env = t
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"));
    let global_api_key = t
        .get("Globals")
        .and_then(|g| g.get("Api"))
        .and_then(|a| a.get("Auth"))
        .and_then(|a| a.get("ApiKeyRequired"))
        .and_then(Value::as_bool);
    let mut out = Vec::new();
    for (id, res) in resources_of_type(t, "AWS::Serverless::Function") {
        let props = &res["Properties"];
        let binary = str_at(res, &["Metadata", "BuildProperties", "Binary"])
            .unwrap_or_else(|| panic!("{id}: no Metadata.BuildProperties.Binary"))
            .to_owned();
        assert_eq!(
            str_at(res, &["Metadata", "BuildMethod"]),
            Some("rust-cargolambda"),
            "{id}: Metadata.BuildMethod"
        );
        assert_eq!(
            props["CodeUri"].as_str(),
            Some("."),
            "{id}: CodeUri must be the workspace root (one shared target/)"
        );

        let mut events = Vec::new();
        let mut stream = None;
        if let Some(evs) = props.get("Events") {
            for (eid, ev) in mapping(evs, &format!("{id}.Events")) {
                let eid = eid.as_str().expect("event id").to_owned();
                if binary == STREAM_FUNCTION && ev["Type"].as_str() == Some("DynamoDB") {
                    assert!(stream.is_none(), "{id}: one stream");
                    stream = Some(ev["Properties"].clone());
                    continue;
                }
                assert_eq!(
                    ev["Type"].as_str(),
                    Some("Api"),
                    "{id}.{eid}: only REST API events are expected"
                );
                let p = &ev["Properties"];
                let api_ref = &p["RestApiId"];
                assert_eq!(
                    tag_of(api_ref).as_deref(),
                    Some("Ref"),
                    "{id}.{eid}: RestApiId must be !Ref to the template's API (the implicit API has no usage plan)"
                );
                let api_id = api_ref.as_str().unwrap();
                let api = apis
                    .get(api_id)
                    .unwrap_or_else(|| panic!("{id}.{eid}: RestApiId {api_id} is not an AWS::Serverless::Api"));
                let api_default = api["Properties"]
                    .get("Auth")
                    .and_then(|a| a.get("ApiKeyRequired"))
                    .and_then(Value::as_bool)
                    .or(global_api_key)
                    .unwrap_or(false);
                let route_setting = p
                    .get("Auth")
                    .and_then(|a| a.get("ApiKeyRequired"))
                    .and_then(Value::as_bool);
                events.push(Event {
                    id: eid,
                    method: p["Method"].as_str().expect("Method").to_ascii_uppercase(),
                    path: p["Path"].as_str().expect("Path").to_owned(),
                    api_key_required: route_setting.unwrap_or(api_default),
                });
            }
        }

        let mut env = BTreeMap::new();
        for vars in [global_env, props.get("Environment").and_then(|e| e.get("Variables"))]
            .into_iter()
            .flatten()
        {
            for (k, v) in mapping(vars, "Environment.Variables") {
                env.insert(k.as_str().expect("variable name").to_owned(), v.clone());
            }
        }

        let mut statements = Vec::new();
        for policy in props.get("Policies").and_then(Value::as_sequence).into_iter().flatten() {
            let doc = policy.get("Statement").and_then(Value::as_sequence).unwrap_or_else(|| {
                panic!("{id}: every policy must be an inline document with explicit statements, not a managed policy or SAM policy template: {policy:?}")
            });
            statements.extend(doc.iter().cloned());
        }
        out.push(Function {
            id,
            binary,
            events,
            stream,
            env,
            statements,
        });
    }
    out
}

fn by_binary<'a>(fns: &'a [Function], name: &str) -> &'a Function {
    fns.iter()
        .find(|f| f.binary == name)
        .unwrap_or_else(|| panic!("no function builds binary {name}"))
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(s) => s.iter().map(|a| a.as_str().expect("action").to_owned()).collect(),
        other => panic!("Action must be a string or list: {other:?}"),
    }
}

#[test]
fn api_events_are_exactly_the_route_table() {
    let t = load_template();
    let fns = functions(&t);
    let mut in_template = BTreeSet::new();
    for f in &fns {
        for e in &f.events {
            assert!(
                in_template.insert((e.method.clone(), e.path.clone(), f.binary.clone())),
                "{}.{}: {} {} appears twice",
                f.id,
                e.id,
                e.method,
                e.path
            );
            let row = ROUTES
                .iter()
                .find(|r| r.method == e.method && r.path == e.path)
                .unwrap_or_else(|| {
                    panic!(
                        "{}.{}: {} {} is not in shared::routes::ROUTES",
                        f.id, e.id, e.method, e.path
                    )
                });
            assert_eq!(
                row.function(),
                f.binary,
                "{} {} is served by {} in ROUTES but by {} ({}) in template.yaml",
                e.method,
                e.path,
                row.function(),
                f.binary,
                f.id
            );
        }
    }
    for r in ROUTES {
        assert!(
            in_template.contains(&(r.method.to_owned(), r.path.to_owned(), r.function().to_owned())),
            "ROUTES row {} {} ({}) has no API event in template.yaml",
            r.method,
            r.path,
            r.function()
        );
    }
    assert_eq!(in_template.len(), ROUTES.len());
}

#[test]
fn app_routes_need_the_api_key_and_webhooks_do_not() {
    let t = load_template();
    for f in functions(&t) {
        for e in &f.events {
            let row = ROUTES
                .iter()
                .find(|r| r.method == e.method && r.path == e.path)
                .unwrap_or_else(|| {
                    panic!(
                        "{}.{}: {} {} is not in ROUTES (see api_events_are_exactly_the_route_table)",
                        f.id, e.id, e.method, e.path
                    )
                });
            assert_eq!(
                e.api_key_required,
                row.app(),
                "{}.{} {} {}: ApiKeyRequired is {} but the route is {}",
                f.id,
                e.id,
                e.method,
                e.path,
                e.api_key_required,
                if row.app() { "an app route" } else { "a webhook" }
            );
        }
    }
    // The API itself defaults to requiring the key (a route added without Auth stays closed),
    // and it has a usage plan, without which no key can be used.
    for (id, api) in resources_of_type(&t, "AWS::Serverless::Api") {
        let auth = &api["Properties"]["Auth"];
        assert_eq!(
            auth["ApiKeyRequired"].as_bool(),
            Some(true),
            "{id}: Auth.ApiKeyRequired"
        );
        let plan = auth["UsagePlan"]["CreateUsagePlan"].as_str();
        assert!(
            matches!(plan, Some("PER_API" | "SHARED")),
            "{id}: Auth.UsagePlan.CreateUsagePlan is {plan:?}"
        );
    }
}

/// The `members = [...]` of the workspace's Cargo.toml.
fn workspace_members() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let start = text.find("members").expect("workspace members");
    let list = &text[start..];
    let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
    list.lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.split(','))
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

/// `name = "..."` of a crate's `[package]`.
fn package_name(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let package = &text[text
        .find("[package]")
        .unwrap_or_else(|| panic!("{}: no [package]", manifest.display()))..];
    let line = package
        .lines()
        .find(|l| l.trim_start().starts_with("name") && l.contains('='))
        .expect("package name");
    line.split('=').nth(1).unwrap().trim().trim_matches('"').to_owned()
}

#[test]
fn every_function_is_a_workspace_binary_and_every_binary_is_deployed() {
    let t = load_template();
    let fns = functions(&t);
    let members = workspace_members();
    let mut binaries = BTreeSet::new();
    for f in &fns {
        assert!(
            binaries.insert(f.binary.clone()),
            "binary {} is built by two functions",
            f.binary
        );
        let dir = format!("functions/{}", f.binary);
        assert!(
            members.contains(&dir),
            "{}: {dir} is not a workspace member ({members:?})",
            f.id
        );
        assert!(
            root().join(&dir).join("src/main.rs").is_file(),
            "{}: {dir}/src/main.rs is missing",
            f.id
        );
        assert_eq!(
            package_name(&root().join(&dir).join("Cargo.toml")),
            f.binary,
            "{}: the crate in {dir} must be named after its binary",
            f.id
        );
    }
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            assert!(
                binaries.contains(&name),
                "functions/{name} has no function in template.yaml"
            );
        }
    }
    let routed: BTreeSet<String> = ROUTES.iter().map(|r| r.function().to_owned()).collect();
    binaries.remove(STREAM_FUNCTION);
    assert_eq!(
        routed, binaries,
        "every deployed function but otp-events serves at least one route"
    );
    let events = by_binary(&fns, STREAM_FUNCTION);
    assert!(
        events.events.is_empty() && events.stream.is_some(),
        "otp-events reads the stream, and serves no route"
    );
}

/// The function that reads the table's stream and delivers events.
const STREAM_FUNCTION: &str = "otp-events";

/// The table's stream reaches otp-events with every change before and after; a failing batch is
/// retried bisected from the first record the function reports, a bounded number of times, then
/// parked on a queue an alarm watches.
#[test]
fn events_come_from_the_stream_with_bounded_retries_and_a_parking_queue() {
    let t = load_template();
    let tables = resources_of_type(&t, "AWS::DynamoDB::Table");
    let (table_id, table) = tables.into_iter().next().unwrap();
    assert_eq!(
        str_at(table, &["Properties", "StreamSpecification", "StreamViewType"]),
        Some("NEW_AND_OLD_IMAGES")
    );
    let fns = functions(&t);
    let f = by_binary(&fns, STREAM_FUNCTION);
    let p = f.stream.as_ref().expect("otp-events has a DynamoDB event");
    assert_eq!(tag_of(&p["Stream"]).as_deref(), Some("GetAtt"));
    assert_eq!(p["Stream"].as_str(), Some(format!("{table_id}.StreamArn").as_str()));
    assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
    let retries = p["MaximumRetryAttempts"].as_i64().expect("a bounded retry count");
    assert!((0..=100).contains(&retries), "{retries}");
    assert!(
        p["MaximumRecordAgeInSeconds"].as_i64().is_some(),
        "a bounded record age"
    );
    assert_eq!(
        p["FunctionResponseTypes"]
            .as_sequence()
            .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>()),
        Some(vec!["ReportBatchItemFailures"])
    );
    let dest = &p["DestinationConfig"]["OnFailure"];
    assert_eq!(dest["Type"].as_str(), Some("SQS"));
    let queue = dest["Destination"].as_str().unwrap().trim_end_matches(".Arn");
    assert!(resources_of_type(&t, "AWS::SQS::Queue").contains_key(queue), "{queue}");
    let watched = resources_of_type(&t, "AWS::CloudWatch::Alarm").values().any(|a| {
        a["Properties"]["Dimensions"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|d| d["Value"].as_str().is_some_and(|v| v.starts_with(queue)))
    });
    assert!(watched, "an alarm watches {queue}");
    // It puts events on its bus and nothing else; no table access of its own.
    let actions: Vec<String> = f.statements.iter().flat_map(actions).collect();
    assert_eq!(actions, ["events:PutEvents"]);
    for s in &f.statements {
        assert_eq!(tag_of(&s["Resource"]).as_deref(), Some("Sub"));
        assert!(s["Resource"].as_str().unwrap().ends_with(":event-bus/${EventBusName}"));
    }
}

/// Holds a secret: must come from Secrets Manager by dynamic reference, never a plain value or
/// a template parameter.
const SECRETS: &[&str] = &[
    "OTP_SECRET",
    "VOBIZ_AUTH_ID",
    "VOBIZ_AUTH_TOKEN",
    "FROM_NUMBER",
    "EVENTS_WEBHOOK_SECRET",
    "EVENTS_PHONE_KEY",
];

#[test]
fn environment_variables_are_documented_and_secrets_are_resolved_at_deploy_time() {
    let t = load_template();
    let fns = functions(&t);
    let documented: BTreeSet<&str> = VARIABLES.iter().map(|v| v.name).collect();
    for f in &fns {
        for (name, value) in &f.env {
            assert!(
                documented.contains(name.as_str()) || name.starts_with("AWS_"),
                "{}: environment variable {name} is not in shared::config::VARIABLES",
                f.id
            );
            if SECRETS.contains(&name.as_str()) {
                // An optional secret: `!If [Condition, !Sub "{{resolve:...}}", !Ref AWS::NoValue]`.
                let value = match tag_of(value).as_deref() {
                    Some("If") => {
                        let branches = value.as_sequence().map(Vec::as_slice).unwrap_or_default();
                        assert_eq!(branches.len(), 3, "{}: {name}: !If [condition, then, else]", f.id);
                        assert_eq!(
                            branches[2].as_str(),
                            Some("AWS::NoValue"),
                            "{}: {name}: else AWS::NoValue",
                            f.id
                        );
                        &branches[1]
                    }
                    _ => value,
                };
                assert_eq!(
                    tag_of(value).as_deref(),
                    Some("Sub"),
                    "{}: {name} must be a !Sub dynamic reference",
                    f.id
                );
                let text = value
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: {name}: !Sub takes a string here", f.id));
                assert!(
                    text.starts_with("{{resolve:secretsmanager:") && text.ends_with("}}"),
                    "{}: {name} = {text:?} is not a Secrets Manager dynamic reference",
                    f.id
                );
            }
        }
        assert!(f.env.contains_key("OTP_TABLE"), "{}: OTP_TABLE is not set", f.id);
    }
    // OTP_SECRET only where a key is used: codes (send, verify), tokens and sealed codes (send,
    // the webhooks). otp-status only reads a record, cancel-otp only ends one, erase-number only
    // deletes one.
    for f in &fns {
        let needs = !["otp-status", "cancel-otp", "erase-number", STREAM_FUNCTION].contains(&f.binary.as_str());
        assert_eq!(
            f.env.contains_key("OTP_SECRET"),
            needs,
            "{}: OTP_SECRET {}",
            f.id,
            if needs { "is not set" } else { "must not reach it" }
        );
    }
    // Vobiz credentials only where they are used: send-otp places calls; the webhooks check
    // Vobiz signatures with the auth token; verify-otp and otp-status get none.
    let has = |bin: &str, var: &str| by_binary(&fns, bin).env.contains_key(var);
    for var in ["VOBIZ_AUTH_ID", "VOBIZ_AUTH_TOKEN", "FROM_NUMBER"] {
        assert!(has("send-otp", var), "send-otp needs {var}");
        assert!(
            !has("verify-otp", var) && !has("otp-status", var),
            "{var} must not reach verify-otp or otp-status"
        );
    }
    for r in ROUTES.iter().filter(|r| !r.app()) {
        assert!(
            has(r.function(), "VOBIZ_AUTH_TOKEN"),
            "{} verifies Vobiz signatures: it needs VOBIZ_AUTH_TOKEN",
            r.function()
        );
        assert!(
            !has(r.function(), "VOBIZ_AUTH_ID") && !has(r.function(), "FROM_NUMBER"),
            "{} needs only the auth token",
            r.function()
        );
    }
    // No parameter may carry a secret.
    if let Some(params) = t.get("Parameters").and_then(Value::as_mapping) {
        for (name, p) in params {
            let name = name.as_str().unwrap();
            let lower = name.to_ascii_lowercase();
            assert!(
                !(lower.contains("token") || lower.contains("password") || lower.contains("authid"))
                    || p.get("NoEcho").is_some(),
                "parameter {name} looks like a secret: use Secrets Manager"
            );
        }
    }
}

/// Vobiz's webhooks have their own throttle, per route, apart from the app key's usage plan, and
/// sized from the calls a minute the template allows.
#[test]
fn webhooks_have_their_own_throttle_sized_from_the_call_rate() {
    let t = load_template();
    let api = resources(&t)["Api"];
    let settings = api["Properties"]["MethodSettings"]
        .as_sequence()
        .expect("MethodSettings");
    let usage_plan = &api["Properties"]["Auth"]["UsagePlan"]["Throttle"];
    assert!(
        usage_plan.get("RateLimit").is_some(),
        "the app key keeps its usage-plan throttle"
    );
    let reference = |v: &Value| match v {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        _ => None,
    };
    for r in ROUTES.iter().filter(|r| !r.app()) {
        let encoded = r.path.replace('/', "~1");
        let encoded = format!("/{encoded}");
        let s = settings
            .iter()
            .find(|s| str_at(s, &["ResourcePath"]) == Some(encoded.as_str()))
            .unwrap_or_else(|| panic!("no method setting for {} ({encoded})", r.path));
        assert_eq!(str_at(s, &["HttpMethod"]), Some(r.method), "{}", r.path);
        assert_eq!(
            reference(&s["ThrottlingRateLimit"]).as_deref(),
            Some("WebhookRateLimit"),
            "{}",
            r.path
        );
        assert_eq!(
            reference(&s["ThrottlingBurstLimit"]).as_deref(),
            Some("WebhookBurstLimit"),
            "{}",
            r.path
        );
    }
    let default = |name: &str| -> f64 {
        let v = &t["Parameters"][name]["Default"];
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| panic!("{name}"))
    };
    let variable = |name: &str| -> f64 {
        VARIABLES
            .iter()
            .find(|v| v.name == name)
            .unwrap()
            .default
            .parse()
            .unwrap()
    };
    // A call makes up to: the answer, the gate's key, the repeats, the hangup.
    let per_call = 2.0 + variable("OTP_MAX_REPEATS") + 1.0;
    let calls = default("CallsPerMinute");
    assert_eq!(
        calls,
        variable("CALLS_PER_MINUTE"),
        "the template's default is the code's"
    );
    assert!(
        default("WebhookRateLimit") >= calls * per_call / 60.0,
        "rate too small for the calls"
    );
    assert!(
        default("WebhookBurstLimit") >= calls,
        "a minute's answers may arrive together"
    );
}

#[test]
fn iam_is_least_privilege_on_the_table() {
    let t = load_template();
    let fns = functions(&t);
    let tables = resources_of_type(&t, "AWS::DynamoDB::Table");
    // otp-events has no table access (events_come_from_the_stream_... checks its one action).
    for f in fns.iter().filter(|f| f.binary != STREAM_FUNCTION) {
        assert!(!f.statements.is_empty(), "{}: no IAM statements", f.id);
        for s in &f.statements {
            assert_eq!(s["Effect"].as_str(), Some("Allow"), "{}: {s:?}", f.id);
            for a in actions(s) {
                assert!(
                    a.starts_with("dynamodb:") && !a.contains('*'),
                    "{}: action {a} (only named DynamoDB actions)",
                    f.id
                );
            }
            let resource = &s["Resource"];
            assert_eq!(
                tag_of(resource).as_deref(),
                Some("GetAtt"),
                "{}: Resource must be !GetAtt <table>.Arn, got {resource:?}",
                f.id
            );
            let target = resource.as_str().unwrap();
            let (table, attr) = target.split_once('.').expect("GetAtt Resource.Attribute");
            assert!(
                tables.contains_key(table) && attr == "Arn",
                "{}: Resource {target} is not a table's Arn",
                f.id
            );
        }
    }
    let status = by_binary(&fns, "otp-status");
    for s in &status.statements {
        for a in actions(s) {
            let op = a.trim_start_matches("dynamodb:");
            assert!(
                ["GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable"].contains(&op),
                "otp-status is read-only, yet it is allowed {a}"
            );
        }
    }
}

#[test]
fn table_matches_the_store() {
    let t = load_template();
    let tables = resources_of_type(&t, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table");
    let (id, table) = tables.into_iter().next().unwrap();
    let p = &table["Properties"];
    assert_eq!(p["KeySchema"][0]["AttributeName"].as_str(), Some("pk"), "{id}: key");
    assert_eq!(p["KeySchema"][0]["KeyType"].as_str(), Some("HASH"), "{id}: key type");
    assert_eq!(p["KeySchema"].as_sequence().map(Vec::len), Some(1), "{id}: no sort key");
    assert_eq!(
        p["AttributeDefinitions"][0]["AttributeType"].as_str(),
        Some("S"),
        "{id}: key type S"
    );
    assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"), "{id}: on-demand");
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(shared::store::dynamo::TTL_ATTRIBUTE),
        "{id}: TTL attribute"
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true),
        "{id}: TTL enabled"
    );
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"), "{id}: DeletionPolicy");
    assert_eq!(
        table["UpdateReplacePolicy"].as_str(),
        Some("Retain"),
        "{id}: UpdateReplacePolicy"
    );
}

/// Names a `Ref`/`GetAtt`/`Sub` may use: parameters, resources, pseudo parameters, and what
/// SAM generates from them.
fn referable(t: &Value) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = resources(t).keys().cloned().collect();
    if let Some(params) = t.get("Parameters").and_then(Value::as_mapping) {
        names.extend(params.keys().map(|k| k.as_str().unwrap().to_owned()));
    }
    for (id, api) in resources_of_type(t, "AWS::Serverless::Api") {
        let stage = api["Properties"]["StageName"].as_str().unwrap_or("Prod");
        names.extend([
            format!("{id}{stage}Stage"),
            format!("{id}.Stage"),
            format!("{id}.Deployment"),
        ]);
        if matches!(
            str_at(api, &["Properties", "Auth", "UsagePlan", "CreateUsagePlan"]),
            Some("PER_API")
        ) {
            names.extend(["ApiKey", "UsagePlan", "UsagePlanKey"].map(|s| format!("{id}{s}")));
        }
    }
    for id in resources_of_type(t, "AWS::Serverless::Function").keys() {
        names.insert(format!("{id}Role"));
    }
    names
}

/// The `${Name}` and `${Name.Attr}` variables of a `Fn::Sub` string (`${!Literal}` excluded).
fn sub_variables(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let Some(len) = rest[i..].find('}') else { break };
        let name = &rest[i + 2..i + len];
        if !name.starts_with('!') {
            out.push(name);
        }
        rest = &rest[i + len..];
    }
    out
}

fn is_known(names: &BTreeSet<String>, name: &str) -> bool {
    name.starts_with("AWS::") || names.contains(name) || names.contains(name.split('.').next().unwrap())
}

/// Walks `v`, recording every `Ref`, `GetAtt` or `Sub` (short or long form) that names nothing.
fn check_refs(v: &Value, names: &BTreeSet<String>, at: &str, bad: &mut Vec<String>) {
    // An intrinsic: `!Fn arg` or `{Fn::Name: arg}` / `{Ref: arg}`.
    let intrinsic = match v {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_owned(), &t.value)),
        Value::Mapping(m) if m.len() == 1 => m.iter().next().and_then(|(k, x)| {
            k.as_str()
                .filter(|k| *k == "Ref" || k.starts_with("Fn::"))
                .map(|k| (k.trim_start_matches("Fn::").to_owned(), x))
        }),
        _ => None,
    };
    if let Some((name, arg)) = intrinsic {
        match (name.as_str(), arg) {
            ("Ref" | "GetAtt", Value::String(target)) => {
                if !is_known(names, target) {
                    bad.push(format!("{at}: {name} {target}"));
                }
            }
            ("GetAtt", Value::Sequence(parts)) => {
                let target = parts.first().and_then(Value::as_str).unwrap_or("?");
                if !is_known(names, target) {
                    bad.push(format!("{at}: GetAtt {target}"));
                }
            }
            ("Sub", Value::String(text)) => {
                bad.extend(
                    sub_variables(text)
                        .into_iter()
                        .filter(|n| !is_known(names, n))
                        .map(|n| format!("{at}: Sub ${{{n}}}")),
                );
            }
            ("Sub", Value::Sequence(parts)) => {
                // `[text, {Var: value}]`: the map's own variables are known inside the text.
                let mut local = names.clone();
                if let Some(vars) = parts.get(1).and_then(Value::as_mapping) {
                    local.extend(vars.keys().filter_map(Value::as_str).map(str::to_owned));
                }
                let text = parts.first().and_then(Value::as_str).unwrap_or("");
                bad.extend(
                    sub_variables(text)
                        .into_iter()
                        .filter(|n| !is_known(&local, n))
                        .map(|n| format!("{at}: Sub ${{{n}}}")),
                );
                parts.iter().skip(1).for_each(|x| check_refs(x, names, at, bad));
            }
            _ => check_refs(arg, names, &format!("{at}.{name}"), bad),
        }
        return;
    }
    match v {
        Value::Mapping(m) => {
            for (k, x) in m {
                check_refs(x, names, &format!("{at}.{}", k.as_str().unwrap_or("?")), bad);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| check_refs(x, names, at, bad)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let t = load_template();
    let names = referable(&t);
    let mut bad = Vec::new();
    for section in ["Globals", "Resources", "Outputs", "Conditions"] {
        if let Some(v) = t.get(section) {
            check_refs(v, &names, section, &mut bad);
        }
    }
    assert!(bad.is_empty(), "references to nothing in template.yaml: {bad:#?}");
    // The outputs a deployer needs.
    for out in ["ApiUrl", "ApiKeyId", "TableName", "OtpSecretArn"] {
        assert!(t["Outputs"].get(out).is_some(), "output {out} is missing");
    }
}

/// Every function logs to a log group of the template's, kept for `LogRetentionDays` (a year
/// and a month by default: at least a year, as India's DPDP rules ask of access logs), never
/// Lambda's default of forever.
#[test]
fn every_function_keeps_its_logs_as_long_as_the_retention_parameter_says() {
    let t = load_template();
    let param = &t["Parameters"]["LogRetentionDays"];
    let default = param["Default"].as_u64().expect("LogRetentionDays has a default");
    assert!(default >= 365, "the default keeps logs at least a year: {default}");
    let groups = resources_of_type(&t, "AWS::Logs::LogGroup");
    for (id, res) in resources_of_type(&t, "AWS::Serverless::Function") {
        let group = &res["Properties"]["LoggingConfig"]["LogGroup"];
        assert_eq!(
            tag_of(group).as_deref(),
            Some("Ref"),
            "{id}: LoggingConfig.LogGroup is a !Ref"
        );
        let Value::Tagged(tagged) = group else { unreachable!() };
        let name = tagged.value.as_str().unwrap();
        let g = groups
            .get(name)
            .unwrap_or_else(|| panic!("{id}: {name} is not a log group of the template"));
        let retention = &g["Properties"]["RetentionInDays"];
        assert_eq!(tag_of(retention).as_deref(), Some("Ref"), "{name}: RetentionInDays");
        let Value::Tagged(r) = retention else { unreachable!() };
        assert_eq!(r.value.as_str(), Some("LogRetentionDays"), "{name}");
    }
    assert_eq!(
        groups.len(),
        resources_of_type(&t, "AWS::Serverless::Function").len(),
        "one log group a function"
    );
}
