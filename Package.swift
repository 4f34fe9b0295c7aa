// swift-tools-version: 6.0
// AdPilot: a safety-first controller appliance for advertising budgets.
// No third-party Swift packages: the toolchain plus four system libraries.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The journal and the crypto wrapper are hot loops that the tests drive millions of times
/// (crash recovery, verification); they are compiled optimised in every configuration.
/// Their checks are `precondition`s, which -O keeps.
let alwaysOptimized: [SwiftSetting] = strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "AdPilot",
    products: [
        .executable(name: "adpilotd", targets: ["adpilotd"]),
        .executable(name: "adpilotctl", targets: ["adpilotctl"]),
    ],
    targets: [
        // System libraries, found with pkg-config; `make deps` installs the apt providers.
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(
            name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Header-only wrappers for libc calls Swift cannot name directly.
        .systemLibrary(name: "CPosix", path: "Sources/CPosix"),

        // The pure, deterministic domain: money, modes, pacer, guardrails, anomaly,
        // breaker, decision pipeline. No I/O; time is a value passed in.
        .target(name: "AdPilotCore", swiftSettings: strict),

        // The edge to the operating system: digests and MACs over libcrypto, sd_notify,
        // linked library versions.
        .target(
            name: "AdPilotSystem", dependencies: ["AdPilotCore", "CCurl", "CSystemd", "CCrypto", "CPosix", "CZlib"],
            swiftSettings: alwaysOptimized),

        // The audit journal: append-only, hash-chained, crash-safe, verifiable.
        .target(
            name: "AdPilotJournal", dependencies: ["AdPilotCore", "AdPilotSystem"], swiftSettings: alwaysOptimized),

        // Frozen policies: artifact format, feature registry, inference.
        .target(name: "AdPilotPolicy", dependencies: ["AdPilotCore", "AdPilotSystem"], swiftSettings: alwaysOptimized),

        // AdPilot's own reproducible trainer (make policies), on the simulator.
        .target(
            name: "AdPilotTraining",
            dependencies: ["AdPilotCore", "AdPilotPolicy", "AdPilotPlatforms", "AdPilotSystem", "AdPilotService"],
            swiftSettings: strict),
        .executableTarget(
            name: "adpilot-train", dependencies: ["AdPilotCore", "AdPilotPolicy", "AdPilotTraining"],
            swiftSettings: strict),

        // Platforms: the adapter protocol, the embedded market simulator, and the real
        // platforms over libcurl.
        .target(
            name: "AdPilotPlatforms", dependencies: ["AdPilotCore", "AdPilotSystem", "CCurl"], swiftSettings: strict),

        // What the CLI needs: the control protocol and its client, arguments, the state
        // directory, the status report, the offline halt. Never the daemon runtime.
        .target(
            name: "AdPilotControl", dependencies: ["AdPilotCore", "AdPilotSystem", "AdPilotJournal"],
            swiftSettings: strict),

        // The daemon runtime: configuration, the controller, the control server, systemd.
        .target(
            name: "AdPilotService",
            dependencies: [
                "AdPilotCore", "AdPilotSystem", "AdPilotJournal", "AdPilotPolicy", "AdPilotPlatforms", "AdPilotControl",
                "CSystemd", "CPosix",
            ],
            swiftSettings: strict),

        .executableTarget(
            name: "adpilotd",
            dependencies: ["AdPilotCore", "AdPilotSystem", "AdPilotControl", "AdPilotPlatforms", "AdPilotService"],
            swiftSettings: strict),
        .executableTarget(
            name: "adpilotctl",
            dependencies: [
                "AdPilotCore", "AdPilotSystem", "AdPilotJournal", "AdPilotPolicy", "AdPilotControl", "AdPilotService",
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "adpilot-bench",
            dependencies: [
                "AdPilotCore", "AdPilotJournal", "AdPilotSystem", "AdPilotPlatforms", "AdPilotPolicy", "AdPilotControl",
                "AdPilotService", "AdPilotTestSupport",
            ],
            swiftSettings: strict),

        // The man pages and bash completion, generated from --help and docs/configuration.md
        // at build time (`make man`). Not installed.
        .executableTarget(name: "adpilot-man", dependencies: ["AdPilotCore"], swiftSettings: strict),

        // Child processes for crash tests (SIGKILLed mid-write). Not installed.
        .executableTarget(
            name: "adpilot-testkit", dependencies: ["AdPilotCore", "AdPilotJournal", "AdPilotSystem"],
            swiftSettings: strict),

        // Helpers shared by the test targets and the benchmark (temporary directories,
        // EINTR-safe pipe reads, a loopback HTTP server, a platform whose writes hang).
        .target(
            name: "AdPilotTestSupport", dependencies: ["AdPilotCore", "AdPilotSystem", "AdPilotPlatforms"],
            path: "Tests/Support"),

        .testTarget(name: "AdPilotCoreTests", dependencies: ["AdPilotCore"]),
        .testTarget(name: "AdPilotSystemTests", dependencies: ["AdPilotSystem"]),
        .testTarget(
            name: "AdPilotJournalTests",
            dependencies: ["AdPilotTestSupport", "AdPilotJournal", "AdPilotCore", "AdPilotSystem", "adpilot-testkit"]),
        .testTarget(
            name: "AdPilotPolicyTests",
            dependencies: ["AdPilotTestSupport", "AdPilotPolicy", "AdPilotCore", "AdPilotSystem", "AdPilotTraining"]),
        .testTarget(
            name: "AdPilotControlTests",
            dependencies: ["AdPilotTestSupport", "AdPilotControl", "AdPilotCore", "AdPilotJournal", "AdPilotSystem"]),
        .testTarget(
            name: "AdPilotPlatformsTests", dependencies: ["AdPilotTestSupport", "AdPilotPlatforms", "AdPilotCore"]),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "AdPilotTestSupport", "AdPilotService", "AdPilotControl", "AdPilotPlatforms", "AdPilotJournal",
                "AdPilotCore", "AdPilotSystem", "adpilotd", "adpilotctl",
            ]),
        .testTarget(
            name: "CLITests",
            dependencies: ["AdPilotTestSupport", "adpilotd", "adpilotctl", "adpilot-testkit", "adpilot-man"]),
    ],
    swiftLanguageModes: [.v6]
)
