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
/// HMAC and the places seals must be (seq 2, then at most `interval` records apart, the
/// interval read from the sealed records themselves). No JSON parser: each chunk read has its
/// lines hashed on every core (`LineHashes`, the bulk of the work), then its chain checked in
/// order on one.
package enum JournalVerifier {
    /// `anchors`: heads recorded outside the journal (from journald, say); each must still
    /// be in the journal with the same hash, or the journal was cut back or rewritten.
    /// `after`: the journal here begins after this record (its earlier segments were archived,
    /// shipped off the machine and removed): the first record must follow it in the chain.
    package static func verify(
        directory: String, key: [UInt8]? = nil, anchors: [RecordRef] = [], after: RecordRef? = nil,
        io: any FileIO = PosixFileIO()
    ) -> Result<VerifyReport, VerifyFailure> {
        var chain = ChainCheck(key: key)
        let hashes = LineHashes()
        if let after {
            chain.expected = after.seq + 1
            chain.prev = after.hash.hexBytes
        }
        chain.anchors = Dictionary(anchors.map { ($0.seq, $0.hash.hex) }, uniquingKeysWith: { a, _ in a })
        let names: [SegmentName]
        do {
            names = try io.segmentNames(directory)
        } catch {
            return .failure(VerifyFailure(seq: nil, segment: directory, offset: 0, problem: "\(error)"))
        }
        for (index, name) in names.enumerated() {
            if let failure = verifySegment(
                name, isLast: index == names.count - 1, directory: directory, io: io, hashes: hashes, chain: &chain)
            {
                return .failure(failure)
            }
        }
        var report = chain.report
        report.head = RecordRef(
            seq: chain.expected - 1, hash: SHA256Digest(hex: String(decoding: chain.prev, as: UTF8.self))!)
        if let missing = anchors.filter({ $0.seq > report.head.seq }).map(\.seq).min() {
            let last = names.last?.fileName ?? ""
            return .failure(
                VerifyFailure(
                    seq: report.head.seq + 1, segment: last.isEmpty ? directory : last,
                    offset: last.isEmpty ? 0 : (try? fileSize(io, directory + "/" + last)) ?? 0,
                    problem: "the journal ends at seq \(report.head.seq), but seq \(missing) was anchored: "
                        + "records were cut off the end"))
        }
        return .success(report)
    }

    /// One segment: it starts where the previous one ended, every complete line passes `chain`,
    /// and only the last segment may end with an incomplete line. Nil when it verifies.
    private static func verifySegment(
        _ name: SegmentName, isLast: Bool, directory: String, io: any FileIO, hashes: LineHashes,
        chain: inout ChainCheck
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
            let scan = try SegmentScanner(io: io, path: path).scanChunks(from: 0) { offset, chunk in
                hashes.check(chunk)
                for line in hashes.lines {
                    let bytes = UnsafeRawBufferPointer(rebasing: chunk[line.range])
                    guard let problem = chain.check(bytes, line.header, hashMatches: line.hashMatches) else { continue }
                    failure = VerifyFailure(
                        seq: chain.expected, segment: name.fileName, offset: offset + Int64(line.range.lowerBound),
                        problem: problem)
                    return line.range.upperBound + 1
                }
                return nil
            }
            if let failure { return failure }
            // (The file read: an archive that replaced the listed segment meanwhile is checked too.)
            if scan.path.hasSuffix(".gz"), let named = try? io.archiveHeaderLastRecord(scan.path),
                named.seq != chain.expected - 1 || named.hash.hexBytes != chain.prev
            {
                return VerifyFailure(
                    seq: named.seq, segment: name.fileName, offset: 0,
                    problem: "the archive's header names seq \(named.seq) hash \(named.hash.hex) as its last record, "
                        + "but it ends with seq \(chain.expected - 1): the header was changed")
            }
            let end = scan.end, size = scan.total
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
    var report = VerifyReport()
    var expected: UInt64 = 1
    var prev = RecordFormat.genesis.hexBytes  // 64 hex bytes of the last hash, reused in place
    var lastSealedSeq: UInt64 = 0
    /// From the last seal; nil before the first (which must be seq 2).
    var interval: Int? = nil
    /// Anchored hashes (hex) by seq.
    var anchors: [UInt64: String] = [:]

    init(key: [UInt8]?) { self.key = key }

    /// Checks one line (without its newline) as record `expected`, given its parsed header and
    /// whether its hash matched (`LineHashes`), and if it passes, advances past it. Returns the
    /// problem otherwise (the failing seq is still `expected`).
    mutating func check(_ line: UnsafeRawBufferPointer, _ header: LineHeader?, hashMatches: Bool) -> String? {
        guard let h = header else {
            return "not a journal record (damaged or inserted bytes)"
        }
        guard h.seq == expected else {
            return "found seq \(h.seq), expected \(expected): a record was removed, inserted or reordered"
        }
        guard prev.withUnsafeBytes({ h.prevMatches(line, $0) }) else {
            return "prev does not match the previous record's hash: the chain is broken"
        }
        guard hashMatches else {
            return "hash mismatch: the record's bytes were changed"
        }
        if !anchors.isEmpty, let anchored = anchors[h.seq], h.string(h.hash, in: line) != anchored {
            return "hash \(h.string(h.hash, in: line)) is not the anchored \(anchored): the journal was rewritten "
                + "from here (or before)"
        }
        if h.kindIs("seal", in: line) {
            report.seals += 1
            if let key, let problem = checkSeal(line, h, key: key) { return problem }
        } else if key != nil, let problem = sealMissing(at: h.seq) {
            return problem
        }
        prev.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: line[h.hash])) }
        report.records += 1
        report.bytes += Int64(line.count + 1)
        expected += 1
        return nil
    }

    /// With a key, a record that is not a seal where one must be: seq 2 (the first record
    /// is sealed at once), or `interval` records after the previous seal.
    private func sealMissing(at seq: UInt64) -> String? {
        guard let interval else {
            return seq == 2
                ? "a keyed journal seals its first record, so seq 2 must be a seal: seals were removed, or the "
                    + "journal was written without the key (a key must be used from the first record)"
                : nil
        }
        let since = seq - lastSealedSeq - 1  // unsealed records before this one
        guard since >= UInt64(interval) else { return nil }
        return "\(since) records since the seal at seq \(lastSealedSeq), which says seals come every \(interval): "
            + "this record should be a seal; seals were removed, or it was written without the key"
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
        guard gap <= UInt64(interval ?? seal.interval) else {
            return "\(gap) records before this seal, but seals come every \(interval ?? seal.interval): "
                + "seals were removed"
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
