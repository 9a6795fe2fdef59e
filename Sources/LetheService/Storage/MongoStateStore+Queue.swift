import BSON
import Foundation
import LetheCore
import MongoKit

/// The request queue: requests, their claims and leases (`RequestQueue`).
extension MongoStateStore {
    public func requests(ids: [String]) async throws -> [String: ErasureRequest] {
        guard !ids.isEmpty else { return [:] }
        var found: [String: ErasureRequest] = [:]
        for document in try await requests.find(["_id": ["$in": .array(ids.map { .string($0) })]], options: FindOptions(batchSize: ids.count)).toArray() {
            let request = try BSONCodable.decode(ErasureRequest.self, from: document)
            found[request.id] = request
        }
        return found
    }

    /// Requests, newest first, optionally only those in `states`.
    public func requests(states: [ErasureRequest.State]? = nil, limit: Int = 100) async throws -> [ErasureRequest] {
        let filter: BSONDocument = states.map { ["state": ["$in": .array($0.map { .string($0.rawValue) })]] } ?? [:]
        return try await requests.find(filter, options: FindOptions(sort: ["receivedAt": -1], limit: limit)).toArray()
            .map { try BSONCodable.decode(ErasureRequest.self, from: $0) }
    }

    /// The request as stored, with its queue key (below).
    private func stored(_ request: ErasureRequest) throws -> BSONDocument {
        var document: BSONDocument = ["_id": .string(request.id)]
        for (key, value) in try BSONCodable.encode(request) { document.append(key, value) }
        document[Self.availableAt] = .int64(Self.availableAt(request))
        return document
    }

    /// The queue's key: from when a claim may take the request, in epoch milliseconds:
    /// its lease's expiry while leased, else when it was received (or now, if that is
    /// later); `never` once it is done, failed or waiting for approval. A claim is then
    /// one range on one index, where a filter on the state and the lease needed an `$or`
    /// that no server serves from one index (the test server answers it by reading
    /// every request: docs/benchmarks.md).
    static let availableAt = "availableAtMilliseconds"
    static let never = Int64.max

    static func availableAt(_ request: ErasureRequest) -> Int64 {
        guard request.state.isClaimable else { return never }
        if let lease = request.lease { return lease.expiresAtMilliseconds }
        return min(BSONDatetime(request.receivedAt).millisecondsSinceEpoch, BSONDatetime(Date()).millisecondsSinceEpoch)
    }

    /// The fields that move a held lease's expiry, and the queue key with it.
    static func leaseExtended(to expiresAtMilliseconds: Int64) -> BSONDocument {
        ["lease.expiresAtMilliseconds": .int64(expiresAtMilliseconds), availableAt: .int64(expiresAtMilliseconds)]
    }

    /// Replaces the stored requests in one round trip. A leased request is saved only
    /// while its lease is still its owner's: a worker whose lease expired and was taken
    /// over stops here (`LeaseLost`).
    public func saveAll(_ batch: [ErasureRequest], releasingLeases: Bool) async throws {
        guard !batch.isEmpty else { return }
        let models: [WriteModel] = try batch.map { request in
            var filter: BSONDocument = ["_id": .string(request.id)]
            if let lease = request.lease { filter["lease.owner"] = .string(lease.owner) }
            var saved = request
            if releasingLeases { saved.lease = nil }
            return .replaceOne(filter: filter, replacement: try stored(saved), upsert: request.lease == nil)
        }
        let result = try await requests.bulkWrite(models, ordered: false)
        let leased = batch.filter { $0.lease != nil }
        if !leased.isEmpty, result.matchedCount + result.upsertedCount < batch.count {
            // Some lease was taken over: find which. A request this save released has
            // no lease left, like one another worker finished: its attempt tells them apart.
            for request in leased {
                let current = try await self.request(id: request.id)
                let ours = releasingLeases
                    ? current?.lease == nil && current?.attempts == request.attempts && current?.state == request.state
                    : current?.lease?.owner == request.lease?.owner
                if !ours { throw LeaseLost(requestId: request.id) }
            }
        }
    }

    public func markStarted(requestIds: [String], lease: Lease?) async throws {
        guard !requestIds.isEmpty else { return }
        var filter: BSONDocument = ["_id": ["$in": .array(requestIds.map { .string($0) })]]
        var set = lease.map { Self.leaseExtended(to: $0.expiresAtMilliseconds) } ?? [:]
        set["state"] = .string(ErasureRequest.State.running.rawValue)
        if let lease { filter["lease.owner"] = .string(lease.owner) }
        let result = try await requests.updateMany(filter, ["$set": .document(set), "$inc": ["attempts": 1], "$unset": ["note": ""]])
        if let lease, result.matchedCount < requestIds.count { throw try await leaseLost(among: requestIds, owner: lease.owner) }
    }

    /// Which of these requests `owner` no longer holds, as the error to throw.
    private func leaseLost(among requestIds: [String], owner: String) async throws -> LeaseLost {
        let held = Set(try await requests.find(
            ["_id": ["$in": .array(requestIds.map { .string($0) })], "lease.owner": .string(owner)],
            options: FindOptions(projection: ["_id": 1])
        ).toArray().compactMap { $0["_id"]?.stringValue })
        return LeaseLost(requestId: requestIds.first { !held.contains($0) } ?? requestIds[0])
    }

    public func renewLeases(requestIds: [String], to lease: Lease) async throws {
        guard !requestIds.isEmpty else { return }
        let result = try await requests.updateMany(
            ["_id": ["$in": .array(requestIds.map { .string($0) })], "lease.owner": .string(lease.owner)],
            ["$set": .document(Self.leaseExtended(to: lease.expiresAtMilliseconds))]
        )
        if result.matchedCount < requestIds.count { throw try await leaseLost(among: requestIds, owner: lease.owner) }
    }

    public func claimBatch(_ lease: Lease, limit: Int, excluding: [String], among: [String]?, now: Date) async throws -> [ErasureRequest] {
        var ready: BSONDocument = [Self.availableAt: ["$lte": .int64(BSONDatetime(now).millisecondsSinceEpoch)]]
        var ids = BSONDocument()
        if !excluding.isEmpty { ids["$nin"] = .array(excluding.map { .string($0) }) }
        if let among { ids["$in"] = .array(among.map { .string($0) }) }
        if !ids.isEmpty { ready["_id"] = .document(ids) }
        // Take those still free in one update, marked with a token of this claim, then
        // read back exactly the ones this claim won. Losing every candidate to another
        // worker is not "no work": look again while there were candidates.
        let leaseDocument = try BSONCodable.encode(lease)
        for _ in 0..<8 {
            // Both reads in one reply each (the default first batch is 101 documents).
            let candidates = try await requests.find(ready, options: FindOptions(projection: ["_id": 1], sort: [Self.availableAt: 1], limit: limit, batchSize: limit))
                .toArray().compactMap { $0["_id"] }
            guard !candidates.isEmpty else { return [] }
            let token = UUID().uuidString
            var take = ready
            take["_id"] = ["$in": .array(candidates)]  // within `ready`'s own `_id` terms
            let taken = try await requests.updateMany(take, ["$set": [
                "lease": .document(leaseDocument), "claim": .string(token), Self.availableAt: .int64(lease.expiresAtMilliseconds),
            ]])
            guard taken.modifiedCount > 0 else { continue }
            return try await requests.find(["claim": .string(token)], options: FindOptions(sort: ["receivedAt": 1], batchSize: limit)).toArray()
                .map { try BSONCodable.decode(ErasureRequest.self, from: $0) }
        }
        return []
    }

    public func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest] {
        guard !dedupeKeys.isEmpty else { return [:] }
        var found: [String: ErasureRequest] = [:]
        for document in try await requests.find(["dedupeKey": ["$in": .array(dedupeKeys.map { .string($0) })]]).toArray() {
            let request = try BSONCodable.decode(ErasureRequest.self, from: document)
            if let key = request.dedupeKey { found[key] = request }
        }
        return found
    }

    public func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest] {
        guard !subjectPseudonyms.isEmpty else { return [:] }
        var found: [String: ErasureRequest] = [:]
        let documents = try await requests.find(
            ["subjectPseudonym": ["$in": .array(subjectPseudonyms.map { .string($0) })], "state": ["$ne": "done"]],
            options: FindOptions(sort: ["receivedAt": 1])
        ).toArray()
        for document in documents {
            let request = try BSONCodable.decode(ErasureRequest.self, from: document)
            found[request.subjectPseudonym] = request
        }
        return found
    }

    public func insertAll(_ batch: [ErasureRequest]) async throws -> Set<String> {
        guard !batch.isEmpty else { return [] }
        do {
            try await requests.insertMany(try batch.map { try stored($0) }, ordered: false)
            return []
        } catch let error as MongoError where error.code == .duplicateKey {
            // Unordered: everything else went in. Report the collided keys.
            guard error.writeErrors.allSatisfy({ $0.code == 11000 }) else { throw error }
            return Set(error.writeErrors.compactMap { batch.indices.contains($0.index) ? batch[$0.index].dedupeKey : nil })
        }
    }

    public func releaseAll(requestIds: [String]?, owner: String) async throws {
        if let requestIds, requestIds.isEmpty { return }
        var ours: BSONDocument = ["lease.owner": .string(owner)]
        if let requestIds { ours["_id"] = ["$in": .array(requestIds.map { .string($0) })] }
        // Claimable ones are free from now, behind what waits already; the others only
        // lose the lease.
        var claimable = ours
        claimable[Self.availableAt] = ["$lt": .int64(Self.never)]
        try await requests.updateMany(claimable, [
            "$set": [Self.availableAt: .int64(BSONDatetime(Date()).millisecondsSinceEpoch)],
            "$unset": ["lease": "", "claim": ""],
        ])
        try await requests.updateMany(ours, ["$unset": ["lease": "", "claim": ""]])
    }
}

extension MongoStateStore: LeaseRegistry {
    /// One `$group` over the leased requests (the sparse `lease.owner` index holds only them).
    public func leaseHolders(now: Date) async throws -> [String: Int] {
        let pipeline: [BSONDocument] = [
            ["$match": ["lease.owner": ["$exists": true], "lease.expiresAtMilliseconds": ["$gt": .int64(BSONDatetime(now).millisecondsSinceEpoch)]]],
            ["$group": ["_id": "$lease.owner", "n": ["$sum": 1]]],
        ]
        var holders: [String: Int] = [:]
        for group in try await requests.aggregate(pipeline).toArray() {
            if let owner = group["_id"]?.stringValue, let count = group["n"]?.intValue { holders[owner] = count }
        }
        return holders
    }
}
