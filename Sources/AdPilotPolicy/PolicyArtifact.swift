package import AdPilotCore
package import AdPilotSystem
import Foundation

/// Why a policy was refused: the file and field, and what is wrong.
package struct PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    package let file: String
    package let field: String?
    package let problem: String

    package var description: String { "\(file)\(field.map { ": \($0)" } ?? ""): \(problem)" }
}

/// `manifest.json`, the description of a frozen policy.
package struct Manifest: Codable, Equatable, Sendable {
    package struct FeatureSpec: Codable, Equatable, Sendable {
        package var name: String
        package var mean: Double
        package var std: Double
        package init(name: String, mean: Double, std: Double) { self.name = name; self.mean = mean; self.std = std }
    }

    package struct ActionSpec: Codable, Equatable, Sendable {
        /// `multipliers` (argmax over Q-values), `continuous` (tanh into min...max), or `rule`.
        package var type: String
        package var values: [Double]?
        package var min: Double?
        package var max: Double?
        /// For kind `rule`: `hold` (propose the current budget) or `pace` (follow the pacer).
        package var rule: String?
        /// What the output means, in words, for people reading `policy inspect`.
        package var meaning: String
        package init(type: String, values: [Double]?, min: Double?, max: Double?, rule: String?, meaning: String) {
            self.type = type; self.values = values; self.min = min; self.max = max; self.rule = rule;
            self.meaning = meaning
        }
    }

    package struct LayerSpec: Codable, Equatable, Sendable {
        /// Little-endian float32, shape [outputs, inputs], row-major (PyTorch's nn.Linear layout).
        package var weights: String
        package var bias: String
        package var inputs: Int
        package var outputs: Int
        package var activation: String
        package init(weights: String, bias: String, inputs: Int, outputs: Int, activation: String) {
            self.weights = weights; self.bias = bias; self.inputs = inputs; self.outputs = outputs;
            self.activation = activation
        }
    }

    package struct TabularSpec: Codable, Equatable, Sendable {
        /// Ascending bin edges per feature (k edges make k+1 bins).
        package var edges: [[Double]]
        /// Little-endian float32 Q-table, shape [states, actions]; states in row-major bin order.
        package var table: String
        package init(edges: [[Double]], table: String) { self.edges = edges; self.table = table }
    }

    package struct Provenance: Codable, Equatable, Sendable {
        package var algorithm: String
        package var library: String
        package var data: String
        package var seed: UInt64?
        package var metrics: [String: Double]
        package init(algorithm: String, library: String, data: String, seed: UInt64?, metrics: [String: Double]) {
            self.algorithm = algorithm; self.library = library; self.data = data; self.seed = seed;
            self.metrics = metrics
        }
    }

    package var format: Int
    package var name: String
    package var version: String
    package var kind: String
    package var features: [FeatureSpec]
    package var action: ActionSpec
    package var layers: [LayerSpec]?
    package var tabular: TabularSpec?
    package var provenance: Provenance
    /// SHA-256 (hex) of every other file in the directory.
    package var files: [String: String]

    package init(
        format: Int, name: String, version: String, kind: String, features: [FeatureSpec], action: ActionSpec,
        layers: [LayerSpec]?, tabular: TabularSpec?, provenance: Provenance, files: [String: String]
    ) {
        self.format = format; self.name = name; self.version = version; self.kind = kind; self.features = features
        self.action = action; self.layers = layers; self.tabular = tabular; self.provenance = provenance;
        self.files = files
    }
}

/// A frozen policy, loaded and checked. Immutable: its digest is the SHA-256 of its manifest.
package struct FrozenPolicy: Sendable {
    package static let formatVersion = 1
    package static let fileBytesMax = 64 << 20
    package static let kinds: Set<String> = ["mlp", "linear", "tabular", "rule"]
    package static let activations: Set<String> = ["relu", "tanh", "identity"]
    package static let actionsMax = 64

    package let id: PolicyID
    package let digest: SHA256Digest
    package let manifest: Manifest
    package let features: [Feature]
    /// Layer weights and biases as loaded (mlp / linear).
    let layers: [(weights: [Float], bias: [Float], spec: Manifest.LayerSpec)]
    /// Q-table (tabular).
    let table: [Float]

    /// Loads `dir` (named NAME@VERSION). With `expectedDigest`, refuses any other manifest.
    package static func load(
        directory dir: String, expectedDigest: SHA256Digest? = nil,
        io: any FileIO = PosixFileIO()
    ) throws(PolicyError) -> FrozenPolicy {
        let policyDir = PolicyDirectory(dir: dir, io: io)
        let manifestBytes = try policyDir.readManifest()
        let digest = Crypto.sha256(manifestBytes)
        if let expectedDigest, expectedDigest != digest {
            throw policyDir.fail(
                "manifest.json", nil, "digest \(digest.hex) does not match the expected \(expectedDigest.hex)")
        }
        let m = try policyDir.decodeManifest(manifestBytes)
        let id = try checkIdentity(m, base: policyDir.base, policyDir.fail)
        let features = try checkFeatures(m, policyDir.fail)
        try checkAction(m, policyDir.fail)

        // Every file listed, present, and unchanged.
        let files = ListedFiles(directory: policyDir, listed: m.files)
        var layers: [(weights: [Float], bias: [Float], spec: Manifest.LayerSpec)] = []
        var table: [Float] = []
        switch m.kind {
        case "mlp", "linear":
            layers = try loadLayers(m, featureCount: features.count, files)
        case "tabular":
            table = try loadTable(m, featureCount: features.count, files)
        default:  // rule
            guard m.action.type == "rule", ["hold", "pace"].contains(m.action.rule ?? "") else {
                throw policyDir.fail("manifest.json", "action.rule", "a rule policy is hold or pace")
            }
        }
        try checkExtraFiles(m, files)
        return FrozenPolicy(id: id, digest: digest, manifest: m, features: features, layers: layers, table: table)
    }

    /// The manifest's format, its NAME@VERSION against the directory name, and its kind.
    private static func checkIdentity(
        _ m: Manifest, base: String, _ fail: (String, String?, String) -> PolicyError
    ) throws(PolicyError) -> PolicyID {
        guard m.format == formatVersion else {
            throw fail("manifest.json", "format", "format \(m.format) is not supported (expected \(formatVersion))")
        }
        guard let id = PolicyID("\(m.name)@\(m.version)") else {
            throw fail("manifest.json", "name", "name and version must be [A-Za-z0-9._-]+")
        }
        guard base == id.description else {
            throw fail("manifest.json", "name", "the directory is \(base) but the manifest says \(id)")
        }
        guard kinds.contains(m.kind) else {
            throw fail(
                "manifest.json", "kind",
                "unsupported kind \"\(m.kind)\" (supported: \(kinds.sorted().joined(separator: ", ")))")
        }
        return id
    }

    /// Each feature known, with a finite mean and a finite positive std.
    private static func checkFeatures(
        _ m: Manifest, _ fail: (String, String?, String) -> PolicyError
    ) throws(PolicyError) -> [Feature] {
        var features: [Feature] = []
        for (i, f) in m.features.enumerated() {
            guard let feature = Feature(rawValue: f.name) else {
                throw fail(
                    "manifest.json", "features[\(i)].name",
                    "unknown feature \"\(f.name)\" (see docs/policies.md, Features)")
            }
            guard f.mean.isFinite, f.std.isFinite, f.std > 0 else {
                throw fail("manifest.json", "features[\(i)]", "mean and std must be finite, std > 0")
            }
            features.append(feature)
        }
        return features
    }

    /// The layers of an mlp or linear policy: shapes chained from the features to the actions, weights loaded.
    private static func loadLayers(
        _ m: Manifest, featureCount: Int, _ files: ListedFiles
    ) throws(PolicyError) -> [(weights: [Float], bias: [Float], spec: Manifest.LayerSpec)] {
        let fail = files.directory.fail
        guard let specs = m.layers, !specs.isEmpty else {
            throw fail("manifest.json", "layers", "required for kind \(m.kind)")
        }
        if m.kind == "linear", specs.count != 1 {
            throw fail("manifest.json", "layers", "a linear policy has exactly one layer")
        }
        var layers: [(weights: [Float], bias: [Float], spec: Manifest.LayerSpec)] = []
        var inputs = featureCount
        for (i, l) in specs.enumerated() {
            let field = "layers[\(i)]"
            guard l.inputs == inputs else {
                throw fail(
                    "manifest.json", "\(field).inputs",
                    "shape mismatch: \(l.inputs), but the previous layer gives \(inputs)")
            }
            guard l.outputs >= 1, l.outputs <= 4_096 else {
                throw fail("manifest.json", "\(field).outputs", "must be 1...4096")
            }
            guard activations.contains(l.activation) else {
                throw fail("manifest.json", "\(field).activation", "unsupported activation \"\(l.activation)\"")
            }
            layers.append(
                (
                    try files.floats(l.weights, count: l.inputs * l.outputs, field: "\(field).weights"),
                    try files.floats(l.bias, count: l.outputs, field: "\(field).bias"), l
                ))
            inputs = l.outputs
        }
        let expected = m.action.type == "continuous" ? 1 : m.action.values?.count ?? 0
        guard inputs == expected else {
            throw fail(
                "manifest.json", "layers[\(specs.count - 1)].outputs",
                "shape mismatch: \(inputs) outputs for \(expected) actions")
        }
        return layers
    }

    /// The Q-table of a tabular policy: bin edges checked, one row per state.
    private static func loadTable(
        _ m: Manifest, featureCount: Int, _ files: ListedFiles
    ) throws(PolicyError) -> [Float] {
        let fail = files.directory.fail
        guard let t = m.tabular else { throw fail("manifest.json", "tabular", "required for kind tabular") }
        guard t.edges.count == featureCount else {
            throw fail("manifest.json", "tabular.edges", "one edge list per feature (\(featureCount))")
        }
        var states = 1
        for (i, e) in t.edges.enumerated() {
            guard e.allSatisfy(\.isFinite), zip(e, e.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw fail("manifest.json", "tabular.edges[\(i)]", "edges must be finite and strictly ascending")
            }
            states *= e.count + 1
            guard states <= 1_000_000 else {
                throw fail("manifest.json", "tabular.edges", "more than 1,000,000 states")
            }
        }
        return try files.floats(t.table, count: states * (m.action.values?.count ?? 0), field: "tabular.table")
    }

    /// Listed files that no layer or table uses are still checked.
    private static func checkExtraFiles(_ m: Manifest, _ files: ListedFiles) throws(PolicyError) {
        for name in m.files.keys.sorted()
        where !(m.layers ?? []).contains(where: { $0.weights == name || $0.bias == name }) && m.tabular?.table != name {
            _ = try files.file(name, field: "files")  // listed extras are still checked
        }
    }

    private static func checkAction(_ m: Manifest, _ fail: (String, String?, String) -> PolicyError) throws(PolicyError)
    {
        let a = m.action
        switch a.type {
        case "multipliers":
            guard let v = a.values, !v.isEmpty, v.count <= actionsMax,
                v.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= 10 })
            else {
                throw fail("manifest.json", "action.values", "1...\(actionsMax) finite multipliers in (0, 10]")
            }
            guard m.kind != "rule" else {
                throw fail("manifest.json", "action.type", "a rule policy's action type is rule")
            }
        case "continuous":
            guard let lo = a.min, let hi = a.max, lo.isFinite, hi.isFinite, lo > 0, lo < hi, hi <= 10 else {
                throw fail("manifest.json", "action", "continuous needs finite min < max in (0, 10]")
            }
            guard m.kind == "mlp" || m.kind == "linear" else {
                throw fail("manifest.json", "action.type", "continuous output needs kind mlp or linear")
            }
        case "rule":
            guard m.kind == "rule" else {
                throw fail("manifest.json", "action.type", "only kind rule has action type rule")
            }
        default:
            throw fail(
                "manifest.json", "action.type", "unsupported action type \"\(a.type)\" (multipliers, continuous, rule)")
        }
    }
}

/// A policy directory being loaded: where it is, and its name for error messages.
private struct PolicyDirectory {
    let dir: String
    /// The directory's last path component (NAME@VERSION); errors name files under it.
    let base: String
    let io: any FileIO

    init(dir: String, io: any FileIO) {
        self.dir = dir
        self.base = String(dir.split(separator: "/").last ?? "")
        self.io = io
    }

    func fail(_ file: String, _ field: String?, _ problem: String) -> PolicyError {
        PolicyError(file: "\(base)/\(file)", field: field, problem: problem)
    }

    func readManifest() throws(PolicyError) -> [UInt8] {
        do {
            return try io.readFile(dir + "/manifest.json", limit: 1 << 20)
        } catch {
            throw fail("manifest.json", nil, "cannot read: \(error)")
        }
    }

    func decodeManifest(_ manifestBytes: [UInt8]) throws(PolicyError) -> Manifest {
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw fail(
                "manifest.json", (ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."),
                "required field missing")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw fail(
                "manifest.json", ctx.codingPath.map(\.stringValue).joined(separator: "."),
                "wrong type: \(ctx.debugDescription)")
        } catch {
            throw fail("manifest.json", nil, "not a manifest: \(error)")
        }
    }
}

/// The files a manifest lists, read only when listed and only when their SHA-256 matches.
private struct ListedFiles {
    let directory: PolicyDirectory
    /// The manifest's `files`: name to SHA-256 (hex).
    let listed: [String: String]

    func file(_ name: String, field: String) throws(PolicyError) -> [UInt8] {
        guard let expected = listed[name] else {
            throw directory.fail("manifest.json", field, "\(name) is not listed in files")
        }
        let bytes: [UInt8]
        do {
            bytes = try directory.io.readFile(directory.dir + "/" + name, limit: FrozenPolicy.fileBytesMax)
        } catch {
            throw directory.fail(name, nil, error.errno == ENOENT ? "missing file" : "cannot read: \(error)")
        }
        guard Crypto.sha256(bytes).hex == expected else {
            throw directory.fail(name, nil, "SHA-256 does not match files[\"\(name)\"] in the manifest")
        }
        return bytes
    }

    /// `count` little-endian float32 values, all finite.
    func floats(_ name: String, count: Int, field: String) throws(PolicyError) -> [Float] {
        let bytes = try file(name, field: field)
        guard bytes.count == count * 4 else {
            throw directory.fail(
                name, field, "shape mismatch: \(bytes.count) bytes, expected \(count) float32 (\(count * 4) bytes)")
        }
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let bits =
                UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(
                    bytes[4 * i + 3]) << 24
            let v = Float(bitPattern: bits)
            guard v.isFinite else { throw directory.fail(name, field, "non-finite weight at index \(i)") }
            out[i] = v
        }
        return out
    }
}
