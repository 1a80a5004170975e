/// A setting with a value the gateway cannot use; its description is the one line printed before
/// exiting with status 2 (`PORT must be 1-65535, got 'abc'`).
package struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}
