// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    // Swift 6 language mode already implies complete concurrency checking; stated so
    // that nobody lowers it by switching a target back to Swift 5 mode.
    .enableUpcomingFeature("StrictConcurrency"),
]

let package = Package(
    name: "Lethe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lethe", targets: ["LetheCLI"]),
        .library(name: "BSON", targets: ["BSON"]),
        .library(name: "MongoKit", targets: ["MongoKit"]),
        .library(name: "LetheCore", targets: ["LetheCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.11.0"),  // LogHandler.log(event:)
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        // libmongoc/libbson from the system (Debian: libmongoc-dev, libbson-dev).
        .systemLibrary(
            name: "CMongoC",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev", "libbson-dev"])]
        ),
        // BSON values, their binary form and a Codable coder, in pure Swift: what every
        // other module passes around.
        .target(name: "BSON", swiftSettings: strict),
        // The safe Swift layer: BSON values, client pool, operations, errors. The only
        // module that imports CMongoC.
        .target(
            name: "MongoKit",
            dependencies: [
                "CMongoC",
                "BSON",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Pure-Swift domain core: policies, planner, executor against a storage protocol,
        // receipts and reports. Knows BSON values, never libmongoc.
        .target(
            name: "LetheCore",
            dependencies: [
                "BSON",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Storage on MongoDB, and (later) the long-running service.
        .target(
            name: "LetheService",
            dependencies: [
                "LetheCore",
                "MongoKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "LetheCLI",
            dependencies: [
                "LetheService",
                "LetheCore",
                "MongoKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Swift 6.3.1 crashes splitting the commands' async `run` coroutines with
            // LLVM's optimisations on. The command line only parses flags and calls the
            // other modules, which are optimised as usual; this module is not.
            swiftSettings: strict + [.unsafeFlags(["-Onone"], .when(configuration: .release))]
        ),
        // Shared by the test targets: the test server and its known deviations.
        .target(
            name: "LetheTestSupport",
            dependencies: ["MongoKit", "BSON"],
            path: "Tests/LetheTestSupport",
            swiftSettings: strict
        ),
        // Shared by the core's unit tests: the data and the state in memory.
        .target(
            name: "LetheCoreTestSupport",
            dependencies: ["LetheCore", "BSON"],
            path: "Tests/LetheCoreTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "BSONTests",
            dependencies: ["BSON"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MongoKitTests",
            dependencies: ["MongoKit", "LetheTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LetheCoreTests",
            dependencies: ["LetheCore", "BSON", "LetheCoreTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LetheServiceTests",
            dependencies: [
                "LetheService", "LetheCore", "MongoKit", "LetheTestSupport", "LetheCoreTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LetheCLITests",
            // LetheCLI for its pure helpers (the progress bar), tested without a terminal.
            dependencies: ["LetheCLI", "LetheService", "LetheCore", "MongoKit", "LetheTestSupport", "LetheCoreTestSupport"],
            swiftSettings: strict
        ),
    ]
)
