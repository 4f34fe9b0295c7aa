import Foundation
internal import CPosix

/// Jobs run in order on a thread of their own at a lower scheduling priority (nice 10):
/// work the tick hands off (encoding the next block of records, writing a snapshot) must
/// never take a core from the tick or from the control socket's halt. The thread exists
/// while there is work and exits when the queue is empty.
package final class BackgroundWorker: @unchecked Sendable {
    private let name: String
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    /// A thread is draining `jobs`, or a job is running.
    private var busy = false

    package init(name: String) { self.name = name }

    package func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        guard !busy else { return }
        busy = true
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Returns once every job submitted so far has run.
    package func wait() {
        condition.lock()
        defer { condition.unlock() }
        while busy { condition.wait() }
    }

    private func run() {
        _ = adpilot_nice_this_thread(10)
        while true {
            condition.lock()
            guard !jobs.isEmpty else {
                busy = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// Gives memory the process has freed back to the kernel (`malloc_trim`). After a tick at
/// 100,000 campaigns hundreds of MB of records and snapshot text have been freed, and glibc
/// keeps such memory in each thread's arena unless asked.
package func releaseFreeMemory() { adpilot_release_free_memory() }
