//! One test per field a consumer controls: what it may name, and what it may not.

use super::*;
use service_mesh::{Endpoint, LabelMap};

const MODEL: &str = "prod";

fn same_model(app: &str) -> Consumer<'_> {
    Consumer {
        app,
        model: MODEL,
        cmr: None,
        cross_model_namespaces: &[],
    }
}

/// The policy the real library builds for app `mydb`: an app policy on itself.
fn own(app: &str) -> MeshPolicy {
    MeshPolicy {
        source_namespace: "prod".into(),
        source_app_name: "myapp".into(),
        target_namespace: MODEL.into(),
        target_app_name: Some(app.into()),
        target_selector_labels: None,
        target_service: None,
        target_type: PolicyTargetType::App,
        endpoints: vec![Endpoint {
            hosts: None,
            ports: Some(vec![8080u16.into()]),
            methods: None,
            paths: None,
        }],
    }
}

fn unit(app: Option<&str>, selector: Option<&[(&str, &str)]>) -> MeshPolicy {
    let labels = selector.map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<LabelMap>()
    });
    MeshPolicy {
        target_type: PolicyTargetType::Unit,
        target_app_name: app.map(str::to_owned),
        target_selector_labels: labels,
        ..own("mydb")
    }
}

fn refused(consumer: &Consumer, policy: &MeshPolicy) -> String {
    admit(consumer, policy).expect_err("must be refused")
}

#[test]
fn the_library_policy_on_itself_is_admitted() {
    admit(&same_model("mydb"), &own("mydb")).expect("own app");
    admit(&same_model("mydb"), &unit(Some("mydb"), None)).expect("own pods");
}

#[test]
fn target_namespace_must_be_the_model() {
    let mut p = own("mydb");
    p.target_namespace = "kube-system".into();
    assert!(refused(&same_model("mydb"), &p).contains("is not this model"));
}

#[test]
fn target_app_name_must_be_the_consumer() {
    let p = own("other");
    assert!(refused(&same_model("mydb"), &p).contains("target_app_name \"other\""));
}

#[test]
fn target_service_must_be_the_consumers_own_service() {
    // The hole: target_app_name kept as itself, target_service pointing elsewhere.
    for service in [
        "other",
        "istio-beacon-k8s",
        "modeloperator",
        "mydb-endpoints",
    ] {
        let mut p = own("mydb");
        p.target_service = Some(service.into());
        assert!(
            refused(&same_model("mydb"), &p).contains("target_service"),
            "{service}"
        );
        // Also with no target app at all.
        p.target_app_name = None;
        assert!(refused(&same_model("mydb"), &p).contains("target_service"));
    }
    let mut p = own("mydb");
    p.target_service = Some("mydb".into());
    admit(&same_model("mydb"), &p).expect("its own Service");
}

#[test]
fn a_selector_must_pin_the_consumers_pods() {
    let c = same_model("mydb");
    for selector in [
        &[("app.kubernetes.io/name", "modeloperator")][..],
        &[("juju-modeloperator", "modeloperator")],
        &[(
            "gateway.networking.k8s.io/gateway-name",
            "prod-istio-beacon-k8s-waypoint",
        )],
        &[("app.kubernetes.io/name", "mydb-x")],
        &[("APP.kubernetes.io/name", "mydb")],
    ] {
        let p = unit(None, Some(selector));
        assert!(
            refused(&c, &p).starts_with("target_selector_labels"),
            "{selector:?}"
        );
    }
    // Pinned, and narrowed further by more labels: fine.
    admit(&c, &unit(None, Some(&[("app.kubernetes.io/name", "mydb")]))).expect("pinned");
    admit(
        &c,
        &unit(
            None,
            Some(&[("app.kubernetes.io/name", "mydb"), ("role", "primary")]),
        ),
    )
    .expect("narrower");
}

#[test]
fn a_unit_policy_must_name_its_pods() {
    let p = unit(None, None);
    assert!(refused(&same_model("mydb"), &p).contains("every pod of the namespace"));
    let p = unit(None, Some(&[]));
    assert!(refused(&same_model("mydb"), &p).contains("every pod of the namespace"));
}

#[test]
fn a_consumer_whose_name_is_no_kubernetes_name_owns_nothing() {
    // Found by tests/hostile.rs: a remote app named "" had its unit policy admitted, pinning
    // `app.kubernetes.io/name: ""` (pods of no app), since "" equalled its own name.
    let empty = unit(None, Some(&[(APP_NAME_LABEL, "")]));
    assert!(refused(&same_model(""), &empty).contains("the related application's name \"\""));
    // A selector value may be upper case, an app name may not.
    let upper = unit(None, Some(&[(APP_NAME_LABEL, "MyDB")]));
    assert!(refused(&same_model("MyDB"), &upper).contains("related application's name"));
    for app in [" ", "a/b", "my db", "a".repeat(64).as_str()] {
        let p = unit(None, Some(&[(APP_NAME_LABEL, app)]));
        admit(&same_model(app), &p).expect_err(app);
    }
}

#[test]
fn source_and_target_names_must_be_kubernetes_names() {
    let c = same_model("mydb");
    let bad = [
        "with space",
        "ctl\u{0}x",
        "dry?dryRun=All",
        "a/b",
        "a%2Fb",
        "frag#x",
        "UPPER",
        "-lead",
        "trail-",
        "",
        "dot.ted",
        "é",
        &"x".repeat(64),
    ];
    for value in bad {
        for field in ["source_namespace", "source_app_name"] {
            let mut p = own("mydb");
            match field {
                "source_namespace" => p.source_namespace = value.into(),
                _ => p.source_app_name = value.into(),
            }
            let why = refused(&c, &p);
            assert!(why.starts_with(field), "{field}={value:?}: {why}");
        }
    }
    let mut p = own("mydb");
    p.target_namespace = "pr od".into();
    assert!(refused(&c, &p).starts_with("target_namespace"));
    let mut p = own("mydb");
    p.target_service = Some("my?db".into());
    assert!(refused(&c, &p).starts_with("target_service"));
}

#[test]
fn selector_labels_must_be_kubernetes_labels() {
    let c = same_model("mydb");
    for (k, v) in [
        ("bad key", "x"),
        ("a/b/c", "x"),
        ("-x", "x"),
        ("ok", "bad value"),
        ("ok", "x\u{7}"),
        ("ok", &*"v".repeat(64)),
    ] {
        let p = unit(None, Some(&[("app.kubernetes.io/name", "mydb"), (k, v)]));
        assert!(
            refused(&c, &p).starts_with("target_selector_labels"),
            "{k:?}={v:?}"
        );
    }
}

#[test]
fn cross_model_consumers_are_refused_by_default() {
    let app = "remote-0123456789abcdef0123456789abcdef";
    let c = Consumer {
        app,
        model: MODEL,
        cmr: None,
        cross_model_namespaces: &[],
    };
    let mut p = own("client");
    p.target_namespace = "team".into();
    assert!(refused(&c, &p).contains("cross-model-namespaces"));
}

#[test]
fn cross_model_consumers_target_only_listed_namespaces_and_never_this_model() {
    let app = "remote-0123456789abcdef0123456789abcdef";
    let listed = ["team".to_owned(), MODEL.to_owned()];
    let c = Consumer {
        app,
        model: MODEL,
        cmr: None,
        cross_model_namespaces: &listed,
    };
    let mut p = own("client");
    p.target_namespace = "team".into();
    admit(&c, &p).expect("listed namespace, named target app");
    // The beacon's model stays closed even when listed: a local app named remote-<hex>
    // gains nothing by its name.
    p.target_namespace = MODEL.into();
    assert!(refused(&c, &p).contains("this model"));
    p.target_namespace = "kube-system".into();
    assert!(refused(&c, &p).contains("kube-system"));
    // Unverified and without a target app: nothing to pin the pods to.
    let mut p = unit(None, Some(&[("app.kubernetes.io/name", "client")]));
    p.target_namespace = "team".into();
    assert!(refused(&c, &p).contains("target_app_name"));
}

#[test]
fn cross_model_consumers_with_cmr_data_are_held_to_it() {
    let app = "remote-0123456789abcdef0123456789abcdef";
    let listed = ["team".to_owned(), "other".to_owned()];
    let cmr = CmrData {
        app_name: "client".into(),
        juju_model_name: "team".into(),
    };
    let c = Consumer {
        app,
        model: MODEL,
        cmr: Some(&cmr),
        cross_model_namespaces: &listed,
    };
    let mut p = own("client");
    p.target_namespace = "team".into();
    admit(&c, &p).expect("its own app in its own model");
    p.target_namespace = "other".into();
    assert!(refused(&c, &p).contains("is not the consumer's model"));
    let mut p = own("someone-else");
    p.target_namespace = "team".into();
    assert!(refused(&c, &p).contains("target_app_name"));
}

#[test]
fn cross_model_spelling_is_exact() {
    assert!(is_cross_model("remote-0123456789abcdef0123456789abcdef"));
    for not in [
        "remote-0123456789abcdef0123456789abcde",
        "remote-0123456789abcdef0123456789abcdefa",
        "remote-0123456789abcdef0123456789abcdeg",
        "xremote-0123456789abcdef0123456789abcdef",
        "mydb",
    ] {
        assert!(!is_cross_model(not), "{not}");
    }
}

#[test]
fn kubernetes_name_rules() {
    for ok in ["a", "a-b", "0", &"x".repeat(63)] {
        dns1123_label(ok).expect(ok);
    }
    for ok in ["a.b", "a-b.c-d", "x", &"y".repeat(200)] {
        dns1123_subdomain(ok).expect(ok);
    }
    for bad in ["a..b", ".a", "a.", "a_b", &"x".repeat(254)] {
        assert!(dns1123_subdomain(bad).is_err(), "{bad}");
    }
    for ok in ["a", "app.kubernetes.io/name", "A_b.c", "x/y"] {
        label_key(ok).expect(ok);
    }
    for bad in ["", "/x", "x/", "Upper.Prefix/x", "a b"] {
        assert!(label_key(bad).is_err(), "{bad:?}");
    }
    for ok in ["", "a", "A-b_c.d"] {
        label_value(ok).expect(ok);
    }
}
