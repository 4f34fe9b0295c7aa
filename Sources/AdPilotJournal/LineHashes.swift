import AdPilotSystem
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The costly part of verifying a chunk of lines, spread over the cores: every line's header
/// parsed and its SHA-256 recomputed and compared with the one it stores. A line's hash
/// depends on its own bytes only, so the lines are hashed in any order; the chain (seq,
/// `prev`, seals) is then checked in journal order, one line at a time (`ChainCheck`).
/// Measured in docs/performance.md: hashing is about three quarters of `verify`'s time.
final class LineHashes {
    struct Line {
        /// Within the chunk, without the newline.
        var range: Range<Int>
        var header: LineHeader?
        var hashMatches: Bool
    }

    private(set) var lines: [Line] = []
    /// One SHA-256 context per piece of a chunk (a context is not thread-safe); a few pieces
    /// per core, so that a core that finishes early takes another.
    private let contexts: [Crypto.SHA256Context]

    init(cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) {
        contexts = (0..<(cores == 1 ? 1 : 4 * cores)).map { _ in Crypto.SHA256Context() }
    }

    /// Splits `chunk` (whole lines, each ended by its newline) into `lines`, and parses and
    /// hashes each. The split stops after a line too short to be a record: the chain check
    /// stops there, and a chunk of damage (a run of newlines) stays a few lines, not millions.
    func check(_ chunk: UnsafeRawBufferPointer) {
        lines.removeAll(keepingCapacity: true)
        guard let base = chunk.baseAddress else { return }
        var start = 0
        while start < chunk.count {
            let nl = base.distance(to: UnsafeRawPointer(memchr(base + start, 0x0a, chunk.count - start)!))
            lines.append(Line(range: start..<nl, header: nil, hashMatches: false))
            start = nl + 1
            if nl - lines[lines.count - 1].range.lowerBound <= LineHeader.shortestRecord { break }
        }
        lines.withUnsafeMutableBufferPointer { all in
            let work = Pieces(chunk: chunk, lines: all, contexts: contexts, count: min(contexts.count, all.count))
            if work.count == 1 {
                work.hash(0)
            } else {
                DispatchQueue.concurrentPerform(iterations: work.count) { work.hash($0) }
            }
        }
    }

    /// What the threads share: piece `i` writes only its own run of lines, and hashes with its
    /// own context, so nothing is written by two threads.
    private struct Pieces: @unchecked Sendable {
        let chunk: UnsafeRawBufferPointer
        let lines: UnsafeMutableBufferPointer<Line>
        let contexts: [Crypto.SHA256Context]
        let count: Int

        func hash(_ piece: Int) {
            let sha = contexts[piece]
            for i in (lines.count * piece / count)..<(lines.count * (piece + 1) / count) {
                let line = UnsafeRawBufferPointer(rebasing: chunk[lines[i].range])
                let header = LineHeader.parse(line)
                lines[i].header = header
                lines[i].hashMatches = header?.hashMatches(line, sha) ?? false
            }
        }
    }
}
