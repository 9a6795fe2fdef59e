import BSON
import Foundation
@testable import LetheCore
import Testing

/// Issue 16, point 11: the event parser and the policy loader, fed random and mutated
/// inputs made from the fixtures. Seeded (`LETHE_FUZZ_SEED`, default below, printed), so
/// a failure is replayed exactly; bounded in count; each input has a deadline. Nothing may
/// crash, nothing may take long, and nothing may be accepted that the checks would refuse.
@Suite("Fuzz: event parser and policy loader")
struct FuzzTests {
    static let defaultSeed: UInt64 = 0x1E7E_0016
    static let mutations = 2_000
    /// Far above what one input takes (milliseconds); a hang or an expansion is far above it.
    static let deadline: Duration = .seconds(5)

    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["LETHE_FUZZ_SEED"].flatMap { UInt64($0) } ?? defaultSeed
    }

    /// Pieces that exercise the checks: operators, damaged text, long and deep values, YAML syntax.
    static let splices: [String] = [
        #"{"$ne": ""}"#, "\u{FFFD}", "\u{0301}\u{0301}\u{0301}", "\0", "\"", "\\u0000", "\\ud800", "[[[[[[[[", "]]]]", "{}", "[]",
        String(repeating: "a", count: 300), "null", "true", "-1e999", "12345678901234567890", "\n", "\r\n", ",", ":",
        "&a", "*a", "? ", "- ", "!!binary ", "<<: ", "$where", "%YAML 1.1\n", "---\n", "\t", "#", "|", ">", "'", "{{", "}}",
    ]

    @Test("event bodies: no crash, no hang, accepted events' ids always pass the id checks")
    func events() throws {
        var random = SplitMix64(seed: Self.seed)
        print("FuzzTests.events seed \(Self.seed) (set LETHE_FUZZ_SEED to replay another)")
        let fixtures = [EventFixtures.appServices(), EventFixtures.cloudEvent(), EventFixtures.cloudEvent(type: "user.created"),
                        "[" + EventFixtures.cloudEvent() + "," + EventFixtures.appServices() + "]",
                        EventFixtures.cloudEvent().replacingOccurrences(of: "\n", with: "") + "\n" + EventFixtures.cloudEvent(id: "x")]
        let parser = DeletionEventParser(options: .init(dedupeSecret: try SecretKey(bytes: Array(repeating: 7, count: 32))))
        for round in 0..<Self.mutations {
            let input = Self.mutate(Array(fixtures[round % fixtures.count].utf8), &random)
            let started = ContinuousClock.now
            let results = parser.parse(json: Data(input))
            #expect(ContinuousClock.now - started < Self.deadline, "round \(round)")
            #expect(!results.isEmpty, "round \(round)")
            for case .accepted(let event) in results {
                if let subject = event.subject {
                    #expect(throws: Never.self, "round \(round)") {
                        try SubjectBinding.checkPlain(try #require(subject.userId), which: "user")
                        for identity in subject.identities { try SubjectBinding.checkPlain(identity, which: "identity") }
                    }
                    #expect(subject.identities.count <= parser.options.maximumIdentities)
                }
                #expect(event.dedupeKey.utf8.count == 67, "round \(round)")
            }
            for case .refused(let refusal) in results {
                #expect(!refusal.description.contains(EventFixtures.email), "round \(round)")
            }
        }
    }

    @Test("policy files: no crash, no hang, an accepted policy never has an empty or non-text match, a system database, or too many rules")
    func policies() throws {
        var random = SplitMix64(seed: Self.seed &+ 1)
        print("FuzzTests.policies seed \(Self.seed &+ 1) (set LETHE_FUZZ_SEED to replay another)")
        let fixture = try String(contentsOf: PolicyTestSupport.fixtures.appendingPathComponent("example/todo.yaml"), encoding: .utf8)
        let small = "version: 1\nname: t\ndatabase: db\nrules:\n  - &r { collection: c, match: [a, b.c], where: { s: { $in: [1, 2] } }, action: delete }\n  - *r\n"
        for round in 0..<Self.mutations {
            let base = round % 2 == 0 ? fixture : small
            let input = String(decoding: Self.mutate(Array(base.utf8), &random), as: UTF8.self)
            let started = ContinuousClock.now
            let result = PolicyLoader.load(yaml: input, file: "fuzz.yaml", options: .init(hashKeyConfigured: true))
            #expect(ContinuousClock.now - started < Self.deadline, "round \(round)")
            for policy in result.policies {
                #expect(LetheNamespaces.databaseNameProblem(policy.database) == nil && !LetheNamespaces.systemDatabases.contains(policy.database))
                #expect(policy.rules.count <= PolicyLimits.maximumRules)
                for rule in policy.rules {
                    #expect(!rule.match.isEmpty, "round \(round)")
                    #expect(rule.match.allSatisfy { !$0.isEmpty && !$0.hasPrefix("$") && !$0.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) },
                            "round \(round)")
                    #expect(LetheNamespaces.collectionNameProblem(rule.collection) == nil, "round \(round)")
                }
            }
            #expect(result.diagnostics.allSatisfy { $0.line >= 0 && $0.column >= 0 }, "round \(round)")
        }
    }

    /// One to four random edits: flip, insert, delete, duplicate, or splice a piece.
    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var out = bytes
        for _ in 0...random.next(below: 4) {
            let at = out.isEmpty ? 0 : random.next(below: out.count)
            switch random.next(below: 5) {
            case 0 where !out.isEmpty: out[at] ^= UInt8(1 << random.next(below: 8))
            case 1: out.insert(UInt8(random.next(below: 256)), at: at)
            case 2 where !out.isEmpty: out.removeSubrange(at..<min(out.count, at + 1 + random.next(below: 16)))
            case 3 where !out.isEmpty:
                let end = min(out.count, at + 1 + random.next(below: 64))
                out.insert(contentsOf: out[at..<end], at: at)
            default: out.insert(contentsOf: Array(splices[random.next(below: splices.count)].utf8), at: at)
            }
        }
        return out
    }
}

/// A small seeded generator (SplitMix64), the same on every platform.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
