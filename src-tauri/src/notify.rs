//! Desktop notifications (notify-rust). A machine without a notification service must never
//! break or stall a transfer: notifications run on a blocking thread, and a failure is a log
//! line.

/// Shows a notification in the background; never waits for it.
pub(crate) fn notify(summary: &str, body: &str) {
    let (summary, body) = (summary.to_owned(), body.to_owned());
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Toss")
            .summary(&summary)
            .body(&body)
            .icon("toss-desktop")
            .show();
        if let Err(e) = shown {
            tracing::info!("no desktop notification ({e}): {summary}");
        }
    });
}
