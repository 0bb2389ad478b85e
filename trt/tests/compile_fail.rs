//! Compile-fail tests (trybuild): the borrow rules that make async inference sound.

#[test]
fn borrow_rules_reject_unsound_programs() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
