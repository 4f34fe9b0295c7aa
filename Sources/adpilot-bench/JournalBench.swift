// The audit journal: durable append rates, verification speed, follow latency.
import AdPilotCore
import AdPilotJournal
import AdPilotSystem
import Foundation

/// A decision-sized payload (about 250 bytes of data).
func payload(_ i: Int) -> [UInt8] {
    Array(
        (#"{"action":"apply","budget_after_micros":\#(110_000_000 + i % 997 * 10_000),"#
            + #""budget_before_micros":100000000,"#
            + #""campaign":"c\#(i % 10_000)","mode":"live","policy":"qlearn@1","reason":"step.increase_limited","#
            + #""slot":"live","tick":\#(i)}"#).utf8)
}

func tempDirectory(_ base: String, _ tag: String) -> String {
    var template = Array("\(base)/adpilot-bench-\(tag)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// How long each append rate is measured.
private let journalWindow = Duration.seconds(3)

func benchJournal(in base: String, verifyBytes: Int64) {
    print("== journal (directory \(base))")
    var options = JournalOptions(clock: SystemClock())
    options.holder = "adpilot-bench"
    guard benchSyncedAppends(in: base, options) else { return }
    benchGroupCommits(in: base, options)
    benchVerify(in: base, verifyBytes: verifyBytes, options)
    benchFollowLatency(in: base, options)
}

/// The raw write+fdatasync rate, then the journal's with a sync per record. False when the
/// journal could not be written: the other journal benchmarks are skipped then.
private func benchSyncedAppends(in base: String, _ options: JournalOptions) -> Bool {
    let clock = ContinuousClock()
    let window = journalWindow
    // Raw fdatasync rate: a ~300-byte write then fdatasync, as fast as the disk allows.
    do {
        let dir = tempDirectory(base, "raw")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fd = open(dir + "/raw", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        let line = [UInt8](repeating: 0x61, count: 300)
        var n = 0
        let t = clock.measure {
            let end = clock.now.advanced(by: window)
            while clock.now < end {
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                fdatasync(fd)
                n += 1
            }
        }
        close(fd)
        let rate = Double(n) / seconds(t)
        print("raw write+fdatasync: \(format2(rate)) per second")

        // Sync per record, through the journal.
        let jdir = tempDirectory(base, "sync")
        defer { try? FileManager.default.removeItem(atPath: jdir) }
        let w = try JournalWriter.open(directory: jdir, options: options)
        var m = 0
        let tj = clock.measure {
            let end = clock.now.advanced(by: window)
            while clock.now < end {
                _ = try! w.append(kind: "decision", data: payload(m))
                m += 1
            }
        }
        let journalRate = Double(m) / seconds(tj)
        print(
            "journal append, fdatasync per record: \(format2(journalRate)) per second (\(format2(rate / journalRate))x "
                + "the raw rate's time)"
        )
        try w.close()
    } catch {
        print("journal benchmark failed: \(error)")
        return false
    }
    return true
}

private func benchGroupCommits(in base: String, _ options: JournalOptions) {
    let clock = ContinuousClock()
    let window = journalWindow
    // Group commits of 1,000 records.
    do {
        let dir = tempDirectory(base, "group")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try JournalWriter.open(directory: dir, options: options)
        var batches = 0
        let t = try clock.measure {
            let end = clock.now.advanced(by: window)
            while clock.now < end {
                _ = try w.append(
                    (0..<1_000).map { JournalEntry(kind: "decision", data: payload(batches * 1_000 + $0)) })
                batches += 1
            }
        }
        print(
            "journal append, group commits of 1,000: \(format2(Double(batches * 1_000) / seconds(t))) records per "
                + "second"
        )
        try w.close()
    } catch {
        print("group commit benchmark failed: \(error)")
    }
}

private func benchVerify(in base: String, verifyBytes: Int64, _ options: JournalOptions) {
    let clock = ContinuousClock()
    // Verify a generated journal of `verifyBytes`.
    do {
        let dir = tempDirectory(base, "verify")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try JournalWriter.open(directory: dir, options: options)
        var i = 0
        let gen = try clock.measure {
            var written: Int64 = 0
            while written < verifyBytes {
                _ = try w.append((0..<4_000).map { JournalEntry(kind: "decision", data: payload(i + $0)) })
                i += 4_000
                written = Int64(w.head.seq) * 415  // about 415 bytes per line
            }
        }
        try w.close()
        // The page cache is warm (the journal was just written); the figure says so.
        var result: Result<VerifyReport, VerifyFailure>? = nil
        let t = clock.measure { result = JournalVerifier.verify(directory: dir) }
        let report = try result!.get()
        let mb = Double(report.bytes) / 1_000_000
        print(
            "journal generated: \(report.records) records, \(format2(mb)) MB in \(report.segments) segments "
                + "(\(format2(seconds(gen))) s)"
        )
        print(
            "journal verify: \(format2(mb / seconds(t))) MB/s, \(format2(Double(report.records) / seconds(t))) "
                + "records/s (page cache warm)"
        )
    } catch {
        print("verify benchmark failed: \(error)")
    }
}

private func benchFollowLatency(in base: String, _ options: JournalOptions) {
    // Append-to-visible latency: a follower (polling every 25 ms) sees each record.
    do {
        let dir = tempDirectory(base, "follow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try JournalWriter.open(directory: dir, options: options)
        let count = 200
        let appendedAt = UnsafeMutablePointer<ContinuousClock.Instant>.allocate(capacity: count + 1)
        nonisolated(unsafe) let stamps = appendedAt
        nonisolated(unsafe) var latencies: [Double] = []
        let reader = Thread {
            try? JournalReader(directory: dir).follow(from: 1, shouldStop: { latencies.count >= count }) { r in
                let now = ContinuousClock.now
                latencies.append(seconds(now - stamps[Int(r.seq)]) * 1000)
            }
        }
        reader.start()
        var rng = SplitMix64(seed: 5)
        for k in 1...count {
            usleep(UInt32(rng.next() % 30_000))
            stamps[k] = ContinuousClock.now
            _ = try w.append(kind: "decision", data: payload(k))
        }
        while latencies.count < count { usleep(10_000) }
        let sorted = latencies.sorted()
        print(
            "journal append-to-visible (tail -f, 25 ms poll): p50 \(format2(sorted[count / 2])) ms, p99 "
                + "\(format2(sorted[count * 99 / 100])) ms, max \(format2(sorted.last!)) ms"
        )
        appendedAt.deallocate()
        try w.close()
    } catch {
        print("follow benchmark failed: \(error)")
    }
}
