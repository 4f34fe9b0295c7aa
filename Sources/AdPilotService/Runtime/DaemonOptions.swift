package import AdPilotControl

extension Daemon.Options {
    /// The daemon's own options after the global ones: `--demo [--campaigns N] [--speed S]
    /// [--policy-dir DIR]...`. Each problem is a usage error naming the option.
    package static func parse(_ args: inout Arguments, global: GlobalOptions) throws(UsageError) -> Daemon.Options {
        var o = Daemon.Options()
        o.demo = args.flag("--demo")
        if let n = try args.value("--campaigns") {
            guard o.demo, let v = Int(n), (1...100_000).contains(v) else {
                throw UsageError(message: "--campaigns needs --demo and a number in 1...100000")
            }
            o.campaigns = v
        }
        if let s = try args.value("--speed") {
            guard o.demo, let v = Double(s), v.isFinite, v >= 0.001, v <= 1_000_000 else {
                throw UsageError(
                    message: "--speed needs --demo and a number in 0.001...1000000 (simulated seconds per real second)")
            }
            o.speed = v
        }
        o.policyDirs += try args.values("--policy-dir")
        if o.demo && global.configGiven {
            throw UsageError(message: "--demo runs the embedded default; it does not take --config")
        }
        if let extra = args.tokens.first {
            throw UsageError(
                message:
                    "\(extra.hasPrefix("-") ? "unknown option" : "unexpected argument") \(extra); see adpilotd --help")
        }
        o.global = global
        return o
    }
}
