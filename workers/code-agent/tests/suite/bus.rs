//! `code::*` on the bus: typed calls from another worker, codes intact.

use agentos_kit::harness::TestStack;
use agentos_kit::{WorkerError, call};
use agentos_worker_code_agent::{
    CommandOutput, FileContent, ReadFile, RunCommand, SandboxInfo, SandboxReport, WriteFile, Written,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{T, start_code_agent};

#[tokio::test]
async fn a_file_written_on_the_bus_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_code_agent(&stack, dir.path()).await;
    let client = stack.client();

    let req = WriteFile { path: "notes/todo.md".into(), content: "- ship\n".into(), create_dirs: true };
    let written: Written = call(&client, "code::write_file", &req, T).await.unwrap();
    assert_eq!(written, Written { path: "notes/todo.md".into(), bytes: 7, created: true });

    let read: FileContent = call(
        &client,
        "code::read_file",
        &ReadFile { path: "notes/todo.md".into(), offset_line: None, max_lines: None },
        T,
    )
    .await
    .unwrap();
    assert_eq!(
        read,
        FileContent { path: "notes/todo.md".into(), content: "- ship\n".into(), total_lines: 1, truncated: false }
    );
    stack.stop().await;
}

#[tokio::test]
async fn an_escape_attempt_reaches_a_typed_caller_as_outside_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_code_agent(&stack, dir.path()).await;

    let req = ReadFile { path: "../../etc/passwd".into(), offset_line: None, max_lines: None };
    let err = call::<_, FileContent>(&stack.client(), "code::read_file", &req, T).await.unwrap_err();
    assert_eq!(err.code, "OUTSIDE_WORKSPACE");
    assert!(err.message.contains("`..` is not allowed"), "{}", err.message);
    stack.stop().await;
}

#[tokio::test]
async fn a_command_runs_through_the_bus_and_unknown_fields_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_code_agent(&stack, dir.path()).await;
    let client = stack.client();

    let req = RunCommand {
        program: "echo".into(),
        args: vec!["hi".into()],
        cwd: None,
        timeout_ms: 5_000,
        max_output_bytes: 1024,
    };
    let out: CommandOutput = call(&client, "code::run_command", &req, T).await.unwrap();
    assert_eq!(
        out,
        CommandOutput {
            exit_code: Some(0),
            signal: None,
            stdout: "hi\n".into(),
            stderr: String::new(),
            timed_out: false,
            truncated: false,
            sandbox: SandboxReport { enforced: true, missing: None },
        }
    );
    let info: SandboxInfo = call(&client, "code::sandbox_info", &json!({}), T).await.unwrap();
    assert_eq!(info, SandboxInfo { enforced: true, required: true, network: false, missing: None });

    let err = call::<_, CommandOutput>(&client, "code::run_command", &json!({"program": "ls", "shell": true}), T)
        .await
        .unwrap_err();
    assert_eq!(err, WorkerError::new("INVALID_INPUT", err.message.clone()));
    assert!(err.message.starts_with("code::run_command: unknown field `shell`"), "{}", err.message);
    stack.stop().await;
}
