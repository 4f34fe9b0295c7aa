package import AdPilotSystem

package struct VerifyReport: Sendable, Equatable {
    package var records: UInt64 = 0
    package var segments = 0
    package var seals = 0
    package var bytes: Int64 = 0
    package var head = RecordRef(seq: 0, hash: RecordFormat.genesis)
    /// With a key: the last seq a valid seal vouches for.
    package var sealedThrough: UInt64 = 0
    /// An unfinished line at the very end of the last segment (a write in progress, or a
    /// torn tail the writer will recover at its next open). Not counted, not an error.
    package var incompleteTailBytes = 0
}

package struct VerifyFailure: Error, Sendable, Equatable, CustomStringConvertible {
    package let seq: UInt64?
    package let segment: String
    package let offset: Int64
    package let problem: String

    package var description: String {
        "\(seq.map { "seq \($0): " } ?? "")\(segment) byte \(offset): \(problem)"
    }
}

/// Verifies a whole journal: every byte of every record (SHA-256 of the line), the chain
/// (`prev`), seq continuity within and across segments, and with a key every seal's
/// HMAC and the spacing of seals. Reads at disk speed: no JSON parser.
package enum JournalVerifier {
    package static func verify(
        directory: String, key: [UInt8]? = nil, defaultSealInterval: Int = JournalOptions.sealIntervalDefault,
        io: any FileIO = PosixFileIO()
    ) -> Result<VerifyReport, VerifyFailure> {
        var chain = ChainCheck(key: key, interval: defaultSealInterval)
        let names: [SegmentName]
        do {
            names = try io.segmentNames(directory)
        } catch {
            return .failure(VerifyFailure(seq: nil, segment: directory, offset: 0, problem: "\(error)"))
        }
        for (index, name) in names.enumerated() {
            if let failure = verifySegment(
                name, isLast: index == names.count - 1, directory: directory, io: io, chain: &chain)
            {
                return .failure(failure)
            }
        }
        var report = chain.report
        report.head = RecordRef(
            seq: chain.expected - 1, hash: SHA256Digest(hex: String(decoding: chain.prev, as: UTF8.self))!)
        if key != nil {
            let unsealed = report.head.seq - chain.lastSealedSeq
            if unsealed > UInt64(chain.interval) {
                return .failure(
                    VerifyFailure(
                        seq: chain.lastSealedSeq + UInt64(chain.interval) + 1,
                        segment: names.last?.fileName ?? directory, offset: 0,
                        problem: "\(unsealed) records after the last seal (seq \(chain.lastSealedSeq)), "
                            + "but seals come every \(chain.interval): seals were removed or the journal was written "
                            + "without the key"
                    ))
            }
        }
        return .success(report)
    }

    /// One segment: it starts where the previous one ended, every complete line passes `chain`,
    /// and only the last segment may end with an incomplete line. Nil when it verifies.
    private static func verifySegment(
        _ name: SegmentName, isLast: Bool, directory: String, io: any FileIO, chain: inout ChainCheck
    ) -> VerifyFailure? {
        guard name.firstSeq == chain.expected else {
            return VerifyFailure(
                seq: chain.expected, segment: name.fileName, offset: 0,
                problem:
                    "segment starts at seq \(name.firstSeq), expected \(chain.expected): a segment is missing, or "
                    + "records were removed"
            )
        }
        var failure: VerifyFailure? = nil
        let path = directory + "/" + name.fileName
        do {
            let (end, _) = try SegmentScanner(io: io, path: path).scan(from: 0) { offset, line in
                guard let problem = chain.check(line) else { return true }
                failure = VerifyFailure(seq: chain.expected, segment: name.fileName, offset: offset, problem: problem)
                return false
            }
            if let failure { return failure }
            let size = try fileSize(io, path)
            if end < size {
                guard isLast else {
                    return VerifyFailure(
                        seq: chain.expected, segment: name.fileName, offset: end,
                        problem: "a closed segment ends with an incomplete record")
                }
                chain.report.incompleteTailBytes = Int(size - end)
            }
        } catch {
            return VerifyFailure(seq: chain.expected, segment: name.fileName, offset: 0, problem: "\(error)")
        }
        chain.report.segments += 1
        return nil
    }

    private static func fileSize(_ io: any FileIO, _ path: String) throws -> Int64 {
        let fd = try io.open(path, flags: 0, mode: 0)
        defer { io.close(fd) }
        return try io.size(fd, path: path)
    }
}

/// The running state of a verification: the next expected seq, the last hash, the last seal,
/// and the report so far. `check` takes one line at a time, in journal order.
private struct ChainCheck {
    let key: [UInt8]?
    let sha = Crypto.SHA256Context()
    var report = VerifyReport()
    var expected: UInt64 = 1
    var prev = RecordFormat.genesis.hexBytes  // 64 hex bytes of the last hash, reused in place
    var lastSealedSeq: UInt64 = 0
    var interval: Int

    init(key: [UInt8]?, interval: Int) {
        self.key = key
        self.interval = interval
    }

    /// Checks one line (without its newline) as record `expected` and, if it passes, advances past it.
    /// Returns the problem otherwise (the failing seq is still `expected`).
    mutating func check(_ line: UnsafeRawBufferPointer) -> String? {
        guard let h = LineHeader.parse(line) else {
            return "not a journal record (damaged or inserted bytes)"
        }
        guard h.seq == expected else {
            return "found seq \(h.seq), expected \(expected): a record was removed, inserted or reordered"
        }
        guard prev.withUnsafeBytes({ h.prevMatches(line, $0) }) else {
            return "prev does not match the previous record's hash: the chain is broken"
        }
        guard h.hashMatches(line, sha) else {
            return "hash mismatch: the record's bytes were changed"
        }
        if h.kindIs("seal", in: line) {
            report.seals += 1
            if let key, let problem = checkSeal(line, h, key: key) { return problem }
        }
        prev.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: line[h.hash])) }
        report.records += 1
        report.bytes += Int64(line.count + 1)
        expected += 1
        return nil
    }

    /// A seal vouches for the record before it, its MAC verifies with `key`, and it comes
    /// no later than its interval after the previous seal.
    private mutating func checkSeal(_ line: UnsafeRawBufferPointer, _ h: LineHeader, key: [UInt8]) -> String? {
        guard let seal = Seal.parse(line, h) else { return "seal record is malformed" }
        guard seal.sealedSeq == h.seq - 1, seal.sealedHash == String(decoding: prev, as: UTF8.self) else {
            return "seal vouches for a different record than the one before it: the chain was rewritten"
        }
        let message = "adpilot-seal-v1\n\(h.seq)\n\(seal.sealedHash)\n\(seal.interval)"
        let mac = Crypto.hmacSHA256(key: key, data: Array(message.utf8))
        guard let stored = SHA256Digest(hex: seal.mac), Crypto.constantTimeEqual(mac, stored) else {
            return "seal MAC does not verify: the chain was rewritten without the key, or this is the wrong key"
        }
        let gap = h.seq - lastSealedSeq - 1  // records since the previous seal
        guard gap <= UInt64(seal.interval) else {
            return "\(gap) records before this seal, but seals come every \(seal.interval): seals were removed"
        }
        lastSealedSeq = h.seq
        interval = seal.interval
        report.sealedThrough = h.seq
        return nil
    }
}

/// A seal record's data, parsed from its fixed form
/// `{"interval":N,"mac":"<hex>","sealed_hash":"<hex>","sealed_seq":S}`.
struct Seal {
    let interval: Int
    let mac: String
    let sealedHash: String
    let sealedSeq: UInt64

    static func parse(_ line: UnsafeRawBufferPointer, _ h: LineHeader) -> Seal? {
        let text = h.string(h.data, in: line)
        guard text.hasPrefix(#"{"interval":"#), text.hasSuffix("}") else { return nil }
        let parts = text.dropFirst().dropLast().split(separator: ",")
        guard parts.count == 4 else { return nil }
        func value(_ part: Substring, _ key: String) -> Substring? {
            let prefix = "\"\(key)\":"
            guard part.hasPrefix(prefix) else { return nil }
            return part.dropFirst(prefix.count)
        }
        guard let i = value(parts[0], "interval").flatMap({ Int($0) }), i >= 1,
            let mac = value(parts[1], "mac"), mac.count == 66,
            let sh = value(parts[2], "sealed_hash"), sh.count == 66,
            let ss = value(parts[3], "sealed_seq").flatMap({ UInt64($0) })
        else { return nil }
        return Seal(
            interval: i, mac: String(mac.dropFirst().dropLast()), sealedHash: String(sh.dropFirst().dropLast()),
            sealedSeq: ss)
    }
}
