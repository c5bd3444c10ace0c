//! `update:` steps change the world between hooks and produce no output entry.
#![allow(clippy::unwrap_used)]
mod common;
use common::{TestCharm, scenario};

#[test]
fn update_forms_change_what_the_next_hook_sees() {
    let c = TestCharm::new(
        r#"
r ids relation-ids mesh --format=json
r units relation-list -r 3 --format=json
r app relation-get -r 3 --app - mydb --format=json
r unit relation-get -r 3 - mydb/2 --format=json
r own relation-get -r 3 --app - tester --format=json
r goal goal-state --format=json
r leader is-leader --format=json
"#,
    );
    let out = c.run(&scenario(
        true,
        "relations:\n  - {id: 3, endpoint: db, remote_app: mydb, remote_units: [mydb/0], remote_app_data: {a: '1'}}\n\
         steps:\n  - install\n  \
         - {update: {relation: 3, remote_units: [mydb/2], remote_units_data: {mydb/2: {h: x}}, remote_app_data: {b: '2'}, local_app_data: {mine: 'y'}}}\n  \
         - {update: {add_relation: {id: 9, endpoint: mesh, remote_app: web, remote_units: [web/0]}, planned_units: 3, leader: false}}\n  \
         - start\n  \
         - {update: {remove_relation: 9, leader: true}}\n  \
         - stop\n",
    ));
    assert_eq!(out.steps.len(), 3);
    assert_eq!(c.ok("install", "ids"), "[]\n");
    assert_eq!(c.ok("install", "units"), "[\"mydb/0\"]\n");
    assert_eq!(c.ok("install", "app"), "{\"a\":\"1\"}\n");
    assert_eq!(c.ok("start", "ids"), "[\"mesh:9\"]\n");
    assert_eq!(c.ok("start", "units"), "[\"mydb/2\"]\n");
    assert_eq!(c.ok("start", "app"), "{\"b\":\"2\"}\n");
    assert_eq!(c.ok("start", "unit"), "{\"h\":\"x\"}\n");
    assert_eq!(c.ok("start", "leader"), "false\n");
    let goal: serde_json::Value = serde_json::from_str(&c.ok("start", "goal")).unwrap();
    assert_eq!(goal["units"].as_object().unwrap().len(), 3);
    assert_eq!(c.ok("stop", "ids"), "[]\n");
    assert_eq!(c.ok("stop", "own"), "{\"mine\":\"y\"}\n");
    assert!(out.relations.iter().all(|r| r.id != 9));
}
