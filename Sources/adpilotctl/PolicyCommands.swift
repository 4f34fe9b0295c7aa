import AdPilotCore
import AdPilotControl
import AdPilotPolicy
import AdPilotService
import AdPilotSystem
import Foundation

/// `adpilotctl policy list | inspect NAME@VERSION | run NAME@VERSION | verify DIR`.
enum PolicyCommands {
    static let usage = """
        usage: adpilotctl policy list [--policy-dir DIR]...
               adpilotctl policy inspect NAME@VERSION [--policy-dir DIR]... [--json]
               adpilotctl policy run NAME@VERSION [--policy-dir DIR]... [--json] < FEATURE_ROWS
               adpilotctl policy verify DIR
        """
    static let shippedDir = ShippedPolicies.systemDirectory

    static func run(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        switch args.popVerb() {
        case "list": return try list(&args, global)
        case "inspect": return try inspect(&args, global)
        case "run": return try PolicyRunCommand.run(&args, global)
        case "verify": return try verify(&args)
        case let other:
            throw UsageError(
                message: "policy: \(other.map { "unknown subcommand \($0)" } ?? "missing subcommand")\n\(usage)")
        }
    }

    /// Installed (`<state>/policies`), then shipped (the system's, then beside this binary),
    /// then any --policy-dir, in that order.
    static func directories(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> [String] {
        var extra: [String] = []
        extra += try args.values("--policy-dir")
        return [global.stateDir + "/policies", shippedDir] + ShippedPolicies.directories() + extra
    }

    static func candidates(in dirs: [String]) -> [(id: PolicyID, path: String)] {
        var out: [(PolicyID, String)] = []
        for dir in dirs {
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                if let id = PolicyID(name), FileManager.default.fileExists(atPath: "\(dir)/\(name)/manifest.json") {
                    out.append((id, "\(dir)/\(name)"))
                }
            }
        }
        return out
    }

    /// The first policy `id` in `dirs`, loaded with every check; nil after saying why not.
    static func load(_ id: PolicyID, from dirs: [String]) -> (FrozenPolicy, String)? {
        guard let path = candidates(in: dirs).first(where: { $0.id == id })?.path else {
            Out.error("no policy \(id) in \(dirs.joined(separator: ", ")); add --policy-dir DIR")
            return nil
        }
        do {
            return (try FrozenPolicy.load(directory: path), path)
        } catch {
            Out.error("\(error)")
            return nil
        }
    }

    static func list(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let dirs = try directories(&args, global)
        guard try args.positionals(verb: "policy list").isEmpty else {
            throw UsageError(message: "policy list takes no arguments\n\(usage)")
        }
        let found = candidates(in: dirs)
        if found.isEmpty {
            Out.error("no policies in \(dirs.joined(separator: ", "))")
            return .checkFailed
        }
        var refused = false
        for (id, path) in found {
            do {
                let p = try FrozenPolicy.load(directory: path)
                Out.line(
                    "\(JournalCommands.pad(id.description, 16))  \(JournalCommands.pad(p.manifest.kind, 8))  "
                        + "\(p.digest.hex.prefix(16))  \(path)"
                )
            } catch {
                refused = true
                Out.line("\(JournalCommands.pad(id.description, 16))  REFUSED   \(error)")
            }
        }
        return refused ? .checkFailed : .ok
    }

    static func inspect(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let dirs = try directories(&args, global)
        let rest = try args.positionals(verb: "policy inspect")
        guard rest.count == 1, let id = PolicyID(rest[0]) else {
            throw UsageError(message: "policy inspect needs NAME@VERSION\n\(usage)")
        }
        guard let (p, path) = load(id, from: dirs) else { return .checkFailed }
        if json {
            Out.raw(Array((try? Data(contentsOf: URL(fileURLWithPath: path + "/manifest.json"))) ?? Data()))
            return .ok
        }
        let m = p.manifest
        var lines = [
            "policy    \(id)", "path      \(path)", "digest    \(p.digest.hex)", "kind      \(m.kind)",
            "output    \(m.action.meaning)",
        ]
        if let v = m.action.values { lines.append("actions   \(v.map { String($0) }.joined(separator: ", "))") }
        if let lo = m.action.min, let hi = m.action.max { lines.append("range     \(lo) ... \(hi)") }
        lines.append("features  \(m.features.isEmpty ? "none" : "")")
        for f in m.features {
            lines.append("          \(JournalCommands.pad(f.name, 26)) mean \(f.mean)  std \(f.std)")
        }
        for (i, l) in (m.layers ?? []).enumerated() {
            lines.append("layer \(i)   \(l.inputs) -> \(l.outputs) \(l.activation)")
        }
        if let t = m.tabular {
            lines.append("table     \(t.edges.map { $0.count + 1 }.map(String.init).joined(separator: " x ")) states")
        }
        let pr = m.provenance
        lines.append(
            "trained   \(pr.algorithm) with \(pr.library), data: \(pr.data)\(pr.seed.map { ", seed \($0)" } ?? "")")
        for (k, v) in pr.metrics.sorted(by: { $0.key < $1.key }) { lines.append("          \(k) = \(v)") }
        Out.line(lines.joined(separator: "\n"))
        return .ok
    }

    static func verify(_ args: inout Arguments) throws(UsageError) -> ExitCode {
        let rest = try args.positionals(verb: "policy verify")
        guard rest.count == 1 else { throw UsageError(message: "policy verify needs one directory\n\(usage)") }
        do {
            let p = try FrozenPolicy.load(directory: rest[0])
            Out.line(
                "policy OK: \(p.id) (\(p.manifest.kind)), digest \(p.digest.hex), \(p.manifest.files.count) file(s) "
                    + "verified"
            )
            return .ok
        } catch {
            Out.line("policy REFUSED: \(error)")
            return .checkFailed
        }
    }
}
