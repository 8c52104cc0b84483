extension Flow {
    /// What is wrong with the flow, its splits and their flows, each in words that name it:
    /// duplicate names, transitions to elements the flow does not have, loops, empty flows.
    func definitionProblems() -> [String] {
        var problems: [String] = []
        var nodeNames: [String: Int] = [:]
        var flowNames: [String: Int] = [:]
        collectNames(&nodeNames, &flowNames)
        for (name, count) in nodeNames.sorted(by: { $0.key < $1.key }) where count > 1 {
            problems.append("\(count) steps, deciders or splits are named \(name): names must be unique in a job")
        }
        for (name, count) in flowNames.sorted(by: { $0.key < $1.key }) where count > 1 {
            problems.append("\(count) flows are named \(name): flow names must be unique in a job")
        }
        checkTransitions(&problems)
        return problems
    }

    private func collectNames(_ nodeNames: inout [String: Int], _ flowNames: inout [String: Int]) {
        flowNames[name, default: 0] += 1
        for element in elements {
            nodeNames[element.name, default: 0] += 1
            if case .split(let split) = element.node {
                for flow in split.flows { flow.collectNames(&nodeNames, &flowNames) }
            }
        }
    }

    private func checkTransitions(_ problems: inout [String]) {
        if elements.isEmpty { problems.append("flow \(name) has no steps") }
        let known = elements.map(\.name).joined(separator: ", ")
        for element in elements {
            if case .split(let split) = element.node {
                if split.flows.isEmpty { problems.append("split \(split.name) has no flows") }
                for flow in split.flows { flow.checkTransitions(&problems) }
            }
            for transition in element.transitions {
                if transition.pattern.text.isEmpty {
                    problems.append("\(element.name): on(\"\") matches no exit code; write on(\"*\") for any")
                }
                switch transition.target {
                case .element(let target), .stop(restartAt: let target):
                    if index[target] == nil {
                        problems.append(
                            "\(element.name): on(\"\(transition.pattern)\") goes to \(target), which flow \(name) does not have (it has: \(known))")
                    }
                case .end, .fail:
                    break
                }
            }
        }
        if let loop = firstLoop() {
            problems.append(
                "flow \(name) loops: \(loop.joined(separator: " -> ")) (a step runs at most once per job execution)")
        }
    }

    /// The elements each one may go to next: its transitions' targets, or the element after it
    /// when it has no transitions.
    func successors(of position: Int) -> [Int] {
        let element = elements[position]
        if element.transitions.isEmpty {
            return position + 1 < elements.count ? [position + 1] : []
        }
        return element.transitions.compactMap { transition in
            if case .element(let target) = transition.target { return index[target] }
            return nil
        }
    }

    /// A cycle of element names, if the flow has one.
    private func firstLoop() -> [String]? {
        enum Mark { case visiting, done }
        var marks: [Int: Mark] = [:]
        var path: [Int] = []
        func visit(_ position: Int) -> [String]? {
            switch marks[position] {
            case .done: return nil
            case .visiting:
                let start = path.firstIndex(of: position) ?? 0
                return (path[start...] + [position]).map { elements[$0].name }
            case nil: break
            }
            marks[position] = .visiting
            path.append(position)
            for next in successors(of: position) {
                if let loop = visit(next) { return loop }
            }
            path.removeLast()
            marks[position] = .done
            return nil
        }
        for position in elements.indices {
            if let loop = visit(position) { return loop }
        }
        return nil
    }
}
