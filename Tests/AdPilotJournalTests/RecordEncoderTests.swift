import AdPilotCore
import AdPilotTestSupport
import Foundation
import Testing
@testable import AdPilotJournal

/// `RecordEncoder` writes exactly what `JSONEncoder` writes with the journal's settings, so
/// records keep one definition (their `Codable` conformance) and one byte form. Decision
/// records from a real controller are compared in `DaemonTests` (`RecordEncoderOnDecisions`).
@Suite struct RecordEncoderTests {
    struct Inner: Codable, Equatable {
        var someValue: Int64
        var name: String?
        var ratio: Double
    }

    /// Every path of `Encodable`: nested and optional values, arrays of arrays, dictionaries
    /// keyed by data (never converted), floats, escapes, a custom `encode(to:)` with nested
    /// and super containers.
    struct Everything: Codable {
        var camelCaseKey: String
        var urlPath: String
        var aURLValue: Int
        var optionalNil: Int?
        var optionalSome: Inner?
        var nested: [[Inner]]
        var byCampaign: [String: Inner]
        var floats: [Double]
        var small: Float
        var flags: [Bool]
        var unsigned: UInt64
        var negative: Int8
        var custom: Custom
    }

    struct Custom: Codable {
        enum Keys: String, CodingKey { case kindName, payloadBody, superKey }
        var kind: String
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(kind, forKey: .kindName)
            var body = c.nestedContainer(keyedBy: Keys.self, forKey: .payloadBody)
            try body.encodeNil(forKey: .kindName)
            var list = body.nestedUnkeyedContainer(forKey: .superKey)
            try list.encode(1.5)
            try list.encodeNil()
            var deeper = list.nestedContainer(keyedBy: Keys.self)
            try deeper.encode(true, forKey: .kindName)
            let sup = c.superEncoder(forKey: .superKey)
            var single = sup.singleValueContainer()
            try single.encode("from super")
        }
        init(kind: String) { self.kind = kind }
        init(from decoder: any Decoder) throws { kind = "" }
    }

    static func sample(_ rng: inout SplitMix64) -> Everything {
        let scalars: [Character] = [
            "a", "/", "\"", "\\", "\n", "\t", "\u{0}", "\u{1f}", "\u{7f}", "é", "😀", "\u{2028}",
        ]
        func text() -> String {
            String((0..<Int(rng.next() % 12)).map { _ in scalars[Int(rng.next() % UInt64(scalars.count))] })
        }
        func inner() -> Inner {
            Inner(someValue: Int64(bitPattern: rng.next()), name: rng.next() % 2 == 0 ? nil : text(),
                  ratio: Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF))
        }
        return Everything(
            camelCaseKey: text(), urlPath: text(), aURLValue: Int(rng.next() % 1_000), optionalNil: nil,
            optionalSome: inner(), nested: [[inner(), inner()], [], [inner()]],
            byCampaign: ["c10": inner(), "c9": inner(), "Camp_A": inner(), text(): inner()],
            floats: [1.0, 0.1, 1e-5, 1e20, -0.0, 5e-324, 123_456.789, Double(rng.next() % 1_000_000) / 7],
            small: Float(rng.next() % 1_000) / 3, flags: [true, false], unsigned: rng.next(),
            negative: Int8(truncatingIfNeeded: rng.next()), custom: Custom(kind: text()))
    }

    @Test func writesWhatJSONEncoderWrites() throws {
        let reference = RecordCoding.encoder()
        for seed in UInt64(1)...200 {
            var rng = SplitMix64(seed: seed)
            let value = Self.sample(&rng)
            let ours = try RecordEncoder().encode(value)
            let theirs = Array(try reference.encode(value))
            let comment = "seed \(seed):\nours   \(String(decoding: ours, as: UTF8.self))\ntheirs "
                + String(decoding: theirs, as: UTF8.self)
            #expect(ours == theirs, Comment(rawValue: comment))
        }
    }

    /// A decision record with every optional field present or absent at random, odd
    /// strings and numbers (non-finite statistics among them), decoded from JSON.
    static func decision(_ rng: inout SplitMix64) throws -> DecisionRecord {
        func maybe(_ v: Any) -> Any? { rng.next() % 3 == 0 ? nil : v }
        func real() -> Double { Double(Int64(bitPattern: rng.next()) % 10_000_000) / Double(1 + rng.next() % 997) }
        func micros() -> Int64 { Int64(rng.next() % 10_000_000_000) }
        func text() -> String { ["a/b", "q\"x\\", "tab\tnl\n", "\u{1}", "é😀", ""][Int(rng.next() % 6)] }
        func pid() -> [String: Any] { obj(["integral": real(), "last_measurement": maybe(real())]) }
        let finding = obj([
            "check": text(), "severity": ["info", "warn", "critical"][Int(rng.next() % 3)], "value": real(),
            "baseline": maybe(real()), "score": maybe(real()),
        ])
        let layer = obj([
            "layer": "bounds", "verdict": ["approve", "adjust", "veto", "skipped"][Int(rng.next() % 4)],
            "reason": maybe("bounds.below_min"), "in_micros": maybe(micros()), "out_micros": maybe(micros()),
            "detail": maybe(text()),
        ])
        let stat: Any = [real(), "nan", "inf", "-inf"][Int(rng.next() % 4)]
        let record = obj([
            "action": ["apply", "hold"][Int(rng.next() % 2)], "at": micros(), "budget_after_micros": micros(),
            "budget_before_micros": micros(), "campaign": text(), "config_digest": text(),
            "controller": obj([
                "account_others_micros": micros(), "canary_others_micros": micros(),
                "anomaly": ["level": "warn", "latest": "info", "findings": [finding]],
                "campaign_breaker": "closed", "campaign_breaker_permits": true, "platform_breaker": "open",
                "platform_breaker_permits": false, "delivery": maybe((0..<24).map { _ in abs(real()) + 0.5 }),
                "last_change_at": maybe(micros()), "delivery_as_of": maybe(micros()),
                "pacer": obj([
                    "pace": pid(), "efficiency": pid(), "engaged": true, "day": maybe(micros()),
                    "last_step_at": maybe(micros()),
                ]),
            ]),
            "format": maybe(2), "halt_flag": false, "halt_requested": maybe(true), "in_canary_scope": true,
            "layers": [layer, layer], "mode": "canary",
            "observation": obj([
                "campaign": text(), "currency": "JPY", "current_budget_micros": micros(), "data_age_seconds": 60,
                "hours_without_conversion": 3, "observed_at": maybe(micros()), "spend_today_micros": micros(),
                "trailing": ["conversion_value_micros": micros(), "conversions": stat, "spend_micros": micros()],
            ]),
            "pacer": obj([
                "band_high_micros": micros(), "band_low_micros": micros(), "feed_forward": maybe(real()),
                "recommended_budget_micros": micros(), "target_spend_to_date_micros": micros(),
            ]),
            "policy": "pace@1", "policy_digest": text(), "policy_fault": false,
            "proposal": rng.next() % 2 == 0 ? ["budget_micros": stat] : ["error": text()],
            "quarantined": maybe(false), "reason": maybe("pacer.above_band"), "slot": "live",
            "tick": rng.next() % 1_000,
        ])
        let json = try JSONSerialization.data(withJSONObject: record)
        return try RecordCoding.decoder().decode(DecisionRecord.self, from: json)
    }

    /// The decision's hand-written JSON (`DecisionJSON.swift`) against `JSONEncoder`.
    @Test func decisionsWriteWhatJSONEncoderWrites() throws {
        let reference = RecordCoding.encoder()
        for seed in UInt64(1)...500 {
            var rng = SplitMix64(seed: seed)
            let record = try Self.decision(&rng)
            let ours = RecordCoding.bytes(record)
            let theirs = Array(try reference.encode(record))
            let comment = "seed \(seed):\nours   \(String(decoding: ours, as: UTF8.self))\ntheirs "
                + String(decoding: theirs, as: UTF8.self)
            #expect(ours == theirs, Comment(rawValue: comment))
        }
    }

    /// `JSONOut`'s own digits and its whole-string copy: integers at their limits and
    /// strings with and without escapes (a bridged, non-contiguous one too) as `JSONEncoder`
    /// writes them.
    @Test func integersAndStringsAtTheirEdges() throws {
        let reference = RecordCoding.encoder()
        let ints: [Int64] = [0, 1, -1, 9, 10, -10, 99, 1_000_000, Int64.min, Int64.max, Int64.min + 1]
        let uints: [UInt64] = [0, 1, 10, UInt64.max, UInt64(Int64.max) + 1]
        let strings = [
            "", "sim-00001", "a\"b", "back\\slash", "tab\tnew\nline", "\u{01}\u{1f}", "ünïcödé €", "/slash/",
            String(NSString(string: "bridged \"quote\" and plain")),
        ]
        for v in ints {
            var out = JSONOut()
            out.int(v)
            #expect(out.bytes == Array(try reference.encode(v)), "\(v)")
        }
        for v in uints {
            var out = JSONOut()
            out.uint(v)
            #expect(out.bytes == Array(try reference.encode(v)), "\(v)")
        }
        for v in strings {
            var out = JSONOut()
            out.string(v)
            #expect(out.bytes == Array(try reference.encode(v)), "\(v.debugDescription)")
        }
        // One buffer reused, as the bench and a block encoder reuse it: a reset starts a new
        // document (no comma carried over), and growing past the first capacity keeps every byte.
        var reused = JSONOut(capacity: 1)
        for v in strings + strings {
            reused.reset()
            reused.open()
            reused.string("s", v)
            let numbers = [0.1, -0.0, 1e-7, 12, 1.5e300]
            reused.doubles("d", numbers)
            reused.close()
            let expected = "{\"s\":" + String(decoding: try reference.encode(v), as: UTF8.self)
                + ",\"d\":" + String(decoding: try reference.encode(numbers), as: UTF8.self) + "}"
            #expect(reused.bytes == Array(expected.utf8), "\(v.debugDescription)")
        }
    }

    @Test func nonFiniteNumbersAreRefusedAsJSONEncoderRefusesThem() {
        #expect(throws: EncodingError.self) { try RecordEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try RecordEncoder().encode(Inner(someValue: 1, ratio: .infinity)) }
    }

    /// Snapshots: keys as declared, in any order; they decode back to the same values.
    @Test func snapshotModeKeepsKeysAndDecodes() throws {
        var rng = SplitMix64(seed: 7)
        let value = Self.sample(&rng).byCampaign
        let bytes = try RecordEncoder(forRecords: false).encode(value)
        #expect(try JSONDecoder().decode([String: Inner].self, from: Data(bytes)) == value)
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"someValue\""))
    }
}

/// A JSON object without the members whose value is nil.
func obj(_ pairs: KeyValuePairs<String, Any?>) -> [String: Any] {
    var d: [String: Any] = [:]
    for (k, v) in pairs { if let v { d[k] = v } }
    return d
}
