import BSON

/// What the coverage report reads of the application's data: the collections of a
/// database and a random sample of each. Read-only; kept apart from `DataStore` so
/// that the erasure paths never depend on it.
public protocol DataSampler: Sendable {
    /// The names of the database's collections, without system collections and views.
    func collectionNames(database: String) async throws -> [String]
    /// At most `size` documents picked at random (`$sample`), whole.
    func sample(_ namespace: Namespace, size: Int) async throws -> [BSONDocument]
}
