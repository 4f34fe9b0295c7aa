package import AdPilotCore
package import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

/// The journal's line format, byte for byte. A record is one line of UTF-8 JSON:
///
/// {"seq":42,"time":"2026-11-21T19:40:29.000000Z","kind":"decision","prev":"<64 hex>","data":{...},"hash":"<64 hex>"}\n
///
/// - Keys always in this order; `data` is a JSON object on one line (its own key order is
///   the producer's, sorted for everything AdPilot writes).
/// - `hash` = SHA-256 of the line's bytes up to, not including, `,"hash":"` — i.e. the
///   line minus its last 75 bytes (`,"hash":"` + 64 hex + `"}`) and the newline.
/// - `prev` = the previous record's `hash`; 64 zeros for seq 1.
/// - A `seal` record's data is `{"interval":N,"mac":"<hex>","sealed_hash":"<hex>","sealed_seq":S}`
///   with mac = HMAC-SHA256(key, "adpilot-seal-v1\n<seal seq>\n<sealed_hash>\n<interval>"),
///   where sealed_hash is the seal's own `prev` (the head it vouches for).
package enum RecordFormat {
    /// Longest line accepted, newline included. A longer line is corruption.
    package static let lineBytesMax = 1 << 20
    /// `,"hash":"` + 64 hex + `"}`.
    package static let hashSuffixBytes = 75
    package static let genesis = SHA256Digest.zero
    static let kindBytesMax = 32

    // The fixed parts of a line, as constants in the binary: parsing compares with them on
    // every line read, without a lazily initialised array behind each.
    static let seqPrefix: StaticString = #"{"seq":"#
    static let timeKey: StaticString = #","time":""#
    static let kindKey: StaticString = #"","kind":""#
    static let prevKey: StaticString = #"","prev":""#
    static let dataKey: StaticString = #"","data":"#
    static let hashKey: StaticString = #","hash":""#

    /// Kinds are short lowercase identifiers: `decision`, `apply_result`, ...
    package static func isValidKind(_ kind: String) -> Bool {
        !kind.isEmpty && kind.utf8.count <= kindBytesMax
            && kind.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || $0 == UInt8(ascii: "_") }
    }

    /// True when `data` can be embedded: a single-line JSON object within the size limit.
    /// (Its inner validity is the producer's contract: AdPilot's producers are encoders.)
    package static func isEmbeddable(_ data: [UInt8]) -> Bool {
        guard data.count >= 2 && data.first == UInt8(ascii: "{") && data.last == UInt8(ascii: "}")
            && data.count <= lineBytesMax - 512
        else { return false }
        return data.withUnsafeBytes {
            memchr($0.baseAddress!, 0x0A, $0.count) == nil && memchr($0.baseAddress!, 0x0D, $0.count) == nil
        }
    }

    /// Appends one complete line (with newline) to `out` and returns its hash.
    package static func encode(
        seq: UInt64, time: Instant, kind: String, prev: SHA256Digest, data: [UInt8],
        into out: inout [UInt8], sha: Crypto.SHA256Context = Crypto.SHA256Context()
    ) -> SHA256Digest {
        encode(seq: seq, timeText: Array(time.rfc3339.utf8), kind: kind, prev: prev, data: data, into: &out, sha: sha)
    }

    /// The same, with the time already rendered (a batch shares one time).
    static func encode(
        seq: UInt64, timeText: [UInt8], kind: String, prev: SHA256Digest, data: [UInt8],
        into out: inout [UInt8], sha: Crypto.SHA256Context
    ) -> SHA256Digest {
        precondition(isValidKind(kind), "journal kind \(kind) is not a lowercase identifier")
        precondition(isEmbeddable(data), "journal data must be a one-line JSON object")
        let start = out.count
        seqPrefix.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: String(seq).utf8)
        timeKey.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: timeText)
        kindKey.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: kind.utf8)
        prevKey.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: prev.hexBytes)
        dataKey.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: data)
        var digest = [UInt8](repeating: 0, count: 32)
        out.withUnsafeBytes { all in
            sha.hash(UnsafeRawBufferPointer(rebasing: all[start...]), into: &digest)
        }
        let hash = SHA256Digest(bytes: digest)!
        hashKey.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: hash.hexBytes)
        out.append(contentsOf: Array(#""}"#.utf8))
        out.append(UInt8(ascii: "\n"))
        return hash
    }

    /// The seal MAC's input, as documented above.
    package static func sealMessage(sealSeq: UInt64, sealedHash: SHA256Digest, interval: Int) -> [UInt8] {
        Array("adpilot-seal-v1\n\(sealSeq)\n\(sealedHash.hex)\n\(interval)".utf8)
    }

    package static func sealData(sealSeq: UInt64, sealedHash: SHA256Digest, interval: Int, key: [UInt8]) -> [UInt8] {
        let mac = Crypto.hmacSHA256(
            key: key, data: sealMessage(sealSeq: sealSeq, sealedHash: sealedHash, interval: interval))
        return Array(
            (#"{"interval":\#(interval),"mac":"\#(mac.hex)","sealed_hash":"\#(sealedHash.hex)","#
                + #""sealed_seq":\#(sealSeq - 1)}"#).utf8)
    }
}

/// The fixed fields of one line, located without a JSON parser (verification runs at
/// disk speed).
package struct LineHeader {
    package let seq: UInt64
    /// Byte ranges within the line.
    package let time: Range<Int>
    package let kind: Range<Int>
    package let prev: Range<Int>
    package let data: Range<Int>
    package let hash: Range<Int>
    /// The hashed prefix: `0..<bodyEnd`.
    package let bodyEnd: Int

    /// A line of at most this many bytes is never a record.
    static var shortestRecord: Int { RecordFormat.hashSuffixBytes + 64 }

    /// Parses a line without its newline. Nil when the fixed structure is not there.
    package static func parse(_ line: UnsafeRawBufferPointer) -> LineHeader? {
        let n = line.count
        guard n > shortestRecord, n < RecordFormat.lineBytesMax else { return nil }
        func matches(_ literal: StaticString, at i: Int) -> Bool {
            let count = literal.utf8CodeUnitCount
            return i + count <= n && memcmp(line.baseAddress! + i, literal.utf8Start, count) == 0
        }
        guard matches(RecordFormat.seqPrefix, at: 0) else { return nil }
        var i = RecordFormat.seqPrefix.utf8CodeUnitCount
        var seq: UInt64 = 0
        let digitsStart = i
        while i < n, line[i] >= 48, line[i] <= 57, i - digitsStart < 20 {
            let (m, o1) = seq.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(line[i] - 48))
            if o1 || o2 { return nil }
            seq = s
            i += 1
        }
        guard i > digitsStart, line[digitsStart] != 48 || i == digitsStart + 1, matches(RecordFormat.timeKey, at: i)
        else { return nil }
        i += RecordFormat.timeKey.utf8CodeUnitCount
        let timeStart = i
        while i < n, line[i] != UInt8(ascii: "\""), i - timeStart < 40 { i += 1 }
        let time = timeStart..<i
        guard matches(RecordFormat.kindKey, at: i) else { return nil }
        i += RecordFormat.kindKey.utf8CodeUnitCount
        let kindStart = i
        while i < n, line[i] != UInt8(ascii: "\""), i - kindStart <= RecordFormat.kindBytesMax { i += 1 }
        let kind = kindStart..<i
        guard !kind.isEmpty, matches(RecordFormat.prevKey, at: i) else { return nil }
        i += RecordFormat.prevKey.utf8CodeUnitCount
        let prev = i..<(i + 64)
        i += 64
        guard matches(RecordFormat.dataKey, at: i) else { return nil }
        i += RecordFormat.dataKey.utf8CodeUnitCount
        let bodyEnd = n - RecordFormat.hashSuffixBytes
        guard bodyEnd > i, line[i] == UInt8(ascii: "{"), line[bodyEnd - 1] == UInt8(ascii: "}"),
            matches(RecordFormat.hashKey, at: bodyEnd), line[n - 2] == UInt8(ascii: "\""),
            line[n - 1] == UInt8(ascii: "}")
        else { return nil }
        let hash = (bodyEnd + RecordFormat.hashKey.utf8CodeUnitCount)..<(n - 2)
        // prev and hash are not decoded here: they are compared as hex bytes with hex
        // produced locally, so anything that is not lowercase hex simply fails to match.
        return LineHeader(seq: seq, time: time, kind: kind, prev: prev, data: i..<bodyEnd, hash: hash, bodyEnd: bodyEnd)
    }

    /// Recomputes the hash of the body and compares it, as hex, with the stored one.
    package func hashMatches(_ line: UnsafeRawBufferPointer, _ sha: Crypto.SHA256Context) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 96) { scratch in
            let digest = scratch.baseAddress!, hex = digest + 32
            sha.hash(UnsafeRawBufferPointer(rebasing: line[0..<bodyEnd]), into: digest)
            LineHeader.hexEncode(digest, 32, into: hex)
            return memcmp(hex, line.baseAddress! + hash.lowerBound, 64) == 0
        }
    }

    /// True when the record's `prev` is exactly `hexHash` (64 lowercase hex bytes).
    package func prevMatches(_ line: UnsafeRawBufferPointer, _ hexHash: UnsafeRawBufferPointer) -> Bool {
        hexHash.count == 64 && memcmp(line.baseAddress! + prev.lowerBound, hexHash.baseAddress!, 64) == 0
    }

    /// Decodes a hex field; nil if it is not lowercase hex.
    package func digest(_ r: Range<Int>, in line: UnsafeRawBufferPointer) -> SHA256Digest? {
        SHA256Digest(hex: String(decoding: UnsafeRawBufferPointer(rebasing: line[r]), as: UTF8.self))
    }

    package func kindIs(_ kind: StaticString, in line: UnsafeRawBufferPointer) -> Bool {
        self.kind.count == kind.utf8CodeUnitCount
            && memcmp(line.baseAddress! + self.kind.lowerBound, kind.utf8Start, self.kind.count) == 0
    }

    static func hexEncode(_ bytes: UnsafePointer<UInt8>, _ count: Int, into out: UnsafeMutablePointer<UInt8>) {
        let d = ("0123456789abcdef" as StaticString).utf8Start
        for k in 0..<count {
            out[2 * k] = d[Int(bytes[k] >> 4)]
            out[2 * k + 1] = d[Int(bytes[k] & 0x0f)]
        }
    }

    package func string(_ r: Range<Int>, in line: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: line[r]), as: UTF8.self)
    }
}
