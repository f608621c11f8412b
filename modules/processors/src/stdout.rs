//! Stdout, written once per invocation: a queue batch's ten log lines and its metrics then
//! cost one `write` to Lambda's log pipe instead of eleven (those writes were 4 % of
//! queue-processor's CPU per event, `perf record`). A warning or an error is written at
//! once, with everything before it, so a failure's story is out even if the process dies
//! next; what a killed process loses is at most its last invocation's info lines.

use std::io::Write;
use std::sync::{Mutex, MutexGuard};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// The process's stdout.
pub static STDOUT: InvocationOutput = InvocationOutput::new(write_to_stdout);

/// Past this much pending output, it is written without waiting for the invocation's end.
const MAX_PENDING: usize = 64 * 1024;

/// Output kept until [`InvocationOutput::flush`], a warning or an error.
pub struct InvocationOutput {
    pending: Mutex<Vec<u8>>,
    sink: fn(&[u8]),
}

impl InvocationOutput {
    /// Output written to `sink` (stdout for [`STDOUT`]).
    pub const fn new(sink: fn(&[u8])) -> Self {
        InvocationOutput {
            pending: Mutex::new(Vec::new()),
            sink,
        }
    }

    fn pending(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while holding the lock leaves at worst a partial line.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn append(&self, bytes: &[u8]) {
        self.add(|pending| pending.extend_from_slice(bytes));
    }

    /// Adds one line, formatted straight into the pending output.
    pub fn line(&self, line: impl std::fmt::Display) {
        // Writing into a Vec cannot fail.
        self.add(|pending| _ = writeln!(pending, "{line}"));
    }

    fn add(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.pending();
        write(&mut pending);
        if pending.len() >= MAX_PENDING {
            self.write_out(&mut pending);
        }
    }

    /// Writes what is pending.
    pub fn flush(&self) {
        self.write_out(&mut self.pending());
    }

    fn write_out(&self, pending: &mut Vec<u8>) {
        if !pending.is_empty() {
            (self.sink)(pending);
            pending.clear();
        }
    }
}

fn write_to_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    // Nowhere to report a failed write to the log pipe.
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// One formatted log line on its way into an [`InvocationOutput`].
pub struct LineWriter<'a> {
    output: &'a InvocationOutput,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.output.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.urgent {
            self.output.flush();
        }
    }
}

impl MakeWriter<'_> for &'static InvocationOutput {
    type Writer = LineWriter<'static>;

    fn make_writer(&self) -> LineWriter<'static> {
        LineWriter {
            output: self,
            urgent: false,
        }
    }

    fn make_writer_for(&self, meta: &Metadata<'_>) -> LineWriter<'static> {
        LineWriter {
            output: self,
            // Levels order by verbosity: WARN and ERROR are the least verbose.
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static WRITTEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn record(bytes: &[u8]) {
        WRITTEN
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(bytes).into_owned());
    }

    #[test]
    fn info_waits_for_the_flush_and_a_warning_takes_everything_before_it_out_at_once() {
        static OUTPUT: InvocationOutput = InvocationOutput::new(record);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(&OUTPUT)
            .without_time()
            .with_target(false)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("stored a");
            tracing::info!("stored b");
            assert!(WRITTEN.lock().unwrap().is_empty(), "info lines wait");
            tracing::warn!("rejected c");
            tracing::info!("stored d");
        });
        assert_eq!(
            *WRITTEN.lock().unwrap(),
            [" INFO stored a\n INFO stored b\n WARN rejected c\n"],
            "one write, in order"
        );
        OUTPUT.line("{\"metric\": 1}");
        OUTPUT.flush();
        OUTPUT.flush();
        assert_eq!(
            WRITTEN.lock().unwrap()[1..],
            [" INFO stored d\n{\"metric\": 1}\n"],
            "the end of the invocation writes the rest once; nothing pending, nothing written"
        );
    }

    #[test]
    fn a_large_batch_is_written_before_its_end() {
        static BIG: Mutex<usize> = Mutex::new(0);
        let output = InvocationOutput::new(|bytes| *BIG.lock().unwrap() += bytes.len());
        let line = "x".repeat(1023);
        for _ in 0..64 {
            output.line(&line);
        }
        assert_eq!(*BIG.lock().unwrap(), MAX_PENDING);
    }
}
