//! Where the demo identity provider's one-time codes go: the home's SMS outbox file
//! (`demo-sms-outbox.txt`, owner-only) and, for `miaopi serve --demo`, the terminal the demo
//! runs in. Never the log: whoever reads a log must not be able to log in as a citizen.

use std::io::Write;

use miaopi_govern::CitizenChallenge;

use crate::state::AppState;

/// The outbox file under the home.
pub fn outbox_path(home: &std::path::Path) -> std::path::PathBuf {
    home.join("demo-sms-outbox.txt")
}

/// Delivers a demo code, if the provider made one (a real provider sends an SMS itself and
/// leaves `demo_code` empty). A failure to write is logged without the code.
pub fn deliver(state: &AppState, challenge: &CitizenChallenge) {
    let Some(code) = &challenge.demo_code else {
        return;
    };
    let line = format!(
        "{} 验证码 {code} 发送至 {} 的登记手机（{} 前有效）",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        challenge.resident_id_masked,
        challenge
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    if state.options.demo {
        println!("【演示短信】{line}");
    }
    if let Err(e) = append_private(&outbox_path(&state.options.home), &line) {
        tracing::warn!(error = %e, "writing the demo SMS outbox failed");
    }
}

fn append_private(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{line}")
}
