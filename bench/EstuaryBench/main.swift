// `estuary-bench`: benchmarks that start their own nodes on 127.0.0.1 and print figures.
// The commands live in EstuaryBenchCommand.swift; this file only runs them. The call sits in
// an async function because top-level code would pick ParsableCommand's synchronous `main()`.
import ArgumentParser

func runEstuaryBench() async {
    await EstuaryBenchCommand.main()
}

await runEstuaryBench()
