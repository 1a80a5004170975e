/// The frozen route tree, as flat arrays: each node is a path segment (a constant or a `:name`
/// capture) with its first child, its next sibling, and the routes that end there. Constants are
/// tried before captures, with backtracking, so `/a/latest` beats `/a/:id` for "latest".
struct RouterTrie: Sendable {
    enum Token: Sendable, Equatable {
        case root
        case constant(String)
        case capture(String)
    }

    struct Node: Sendable {
        var token: Token
        var firstChild: Int?
        var nextSibling: Int?
        var routes: [Route] = []
    }

    private(set) var nodes: [Node] = [Node(token: .root)]

    /// The nodes whose routes have no capture, by their path as a client writes it (`/a/b`): most
    /// requests are found with one hash instead of a split and a walk. Any other spelling of the
    /// same path (`//a/b/`) still finds the node through the walk.
    private(set) var exactNodes: [Substring: Int] = [:]

    init(routes: [Route]) {
        for route in routes { insert(route) }
        sortChildren(0)
        for route in routes where !route.segments.contains(where: { $0.hasPrefix(":") }) {
            let path = "/" + route.segments.joined(separator: "/")
            if let node = find(path.split(separator: "/"))?.node { exactNodes[path[...]] = node }
        }
    }

    private mutating func insert(_ route: Route) {
        var current = 0
        for segment in route.segments {
            let token: Token = segment.hasPrefix(":") ? .capture(String(segment.dropFirst())) : .constant(segment)
            current = child(of: current, matching: token) ?? addChild(to: current, token: token)
        }
        nodes[current].routes.append(route)
    }

    private func child(of parent: Int, matching token: Token) -> Int? {
        var index = nodes[parent].firstChild
        while let node = index {
            if case .capture = token, case .capture = nodes[node].token { return node }
            if nodes[node].token == token { return node }
            index = nodes[node].nextSibling
        }
        return nil
    }

    private mutating func addChild(to parent: Int, token: Token) -> Int {
        nodes.append(Node(token: token, firstChild: nil, nextSibling: nodes[parent].firstChild))
        nodes[parent].firstChild = nodes.count - 1
        return nodes.count - 1
    }

    /// Orders each sibling list constants first, so lookups try them before captures.
    private mutating func sortChildren(_ parent: Int) {
        var children: [Int] = []
        var index = nodes[parent].firstChild
        while let node = index {
            children.append(node)
            index = nodes[node].nextSibling
        }
        children.sort { lhs, rhs in
            if case .constant = nodes[lhs].token, case .capture = nodes[rhs].token { return true }
            return false
        }
        nodes[parent].firstChild = children.first
        for (position, node) in children.enumerated() {
            nodes[node].nextSibling = position + 1 < children.count ? children[position + 1] : nil
            sortChildren(node)
        }
    }

    /// The node the segments lead to, with the captured values; nil when no route path matches.
    func find(_ segments: [Substring]) -> (node: Int, captures: [(String, Substring)])? {
        var captures: [(String, Substring)] = []
        guard let node = walk(from: 0, segments: segments[...], captures: &captures) else { return nil }
        return (node, captures)
    }

    private func walk(from node: Int, segments: ArraySlice<Substring>, captures: inout [(String, Substring)]) -> Int? {
        guard let segment = segments.first else { return nodes[node].routes.isEmpty ? nil : node }
        var index = nodes[node].firstChild
        while let child = index {
            switch nodes[child].token {
            case .constant(let value) where value == segment:
                if let found = walk(from: child, segments: segments.dropFirst(), captures: &captures) { return found }
            case .capture(let name):
                captures.append((name, segment))
                if let found = walk(from: child, segments: segments.dropFirst(), captures: &captures) { return found }
                captures.removeLast()
            default:
                break
            }
            index = nodes[child].nextSibling
        }
        return nil
    }
}
