import Testing

@testable import SluiceConfig

@Suite struct YAMLConfigLoaderErrorTests {
    @Test func invalidYAMLIsReportedWhereLibyamlStopped() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input: type: file
                """)
                == "sluice.yaml:3:16: not valid YAML: mapping values are not allowed in this context")
    }

    @Test func anUnclosedFlowMappingIsReportedWithItsContext() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input: {type: file
                    output: {type: stdout}
                """)
                == "sluice.yaml:4:11: not valid YAML: did not find expected ',' or '}' "
                + "(while parsing a flow mapping at line 3, column 12)")
    }

    @Test func aControlCharacterIsReportedAtItsPosition() {
        #expect(
            rejection("pipelines:\n  web: a\u{01}b\n")
                == "sluice.yaml:2:9: not valid YAML: control characters are not allowed")
    }

    @Test func twoDocumentsAreRejected() {
        #expect(
            rejection("pipelines: {}\n---\npipelines: {}\n")
                == "sluice.yaml:2:1: not valid YAML: but found another document "
                + "(expected a single document in the stream at line 1, column 1)")
    }

    @Test func anEmptyConfigIsRejectedAtItsStart() {
        #expect(
            rejection("") == "sluice.yaml:1:1: config is empty: add a 'pipelines:' mapping with at least one pipeline")
        #expect(
            rejection("# nothing yet\n")
                == "sluice.yaml:1:1: config is empty: add a 'pipelines:' mapping with at least one pipeline")
    }

    @Test func aConfigThatIsNotAMappingIsRejected() {
        #expect(
            rejection("\n- a\n- b\n")
                == "sluice.yaml:2:1: the config file must be a mapping of keys to values; found a sequence")
    }

    @Test func anUnknownTopLevelKeyIsRejectedAtTheKey() {
        #expect(
            rejection(
                """
                settings:
                  batch-size: 1
                pipeline:
                  web: {}
                """)
                == "sluice.yaml:3:1: unknown top-level key 'pipeline': expected 'settings' or 'pipelines'")
    }

    @Test func aConfigWithoutPipelinesIsRejectedAtItsFirstKey() {
        #expect(
            rejection(
                """
                # tunables only

                settings:
                  batch-size: 1
                """)
                == "sluice.yaml:3:1: no 'pipelines': add a 'pipelines:' mapping with at least one pipeline")
    }

    @Test func emptyPipelinesAreRejectedAtTheKey() {
        let expected = "'pipelines' is empty: define at least one pipeline with an input and an output"
        #expect(rejection("settings: {}\npipelines:\n") == "sluice.yaml:2:1: \(expected)")
        #expect(rejection("settings: {}\npipelines: {}\n") == "sluice.yaml:2:1: \(expected)")
    }

    @Test func pipelinesMustBeAMapping() {
        #expect(
            rejection("pipelines:\n  - web\n")
                == "sluice.yaml:2:3: 'pipelines' must be a mapping of keys to values; found a sequence")
    }

    @Test func aPipelineWithoutInputIsRejectedAtItsName() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    output:
                      type: stdout
                """)
                == "sluice.yaml:2:3: pipeline 'web' has no input: add 'input:' with a 'type', e.g. 'type: file'")
    }

    @Test func anEmptyInputSequenceIsNoInput() {
        #expect(
            rejection("pipelines:\n  web:\n    input: []\n    output: {type: stdout}\n")
                == "sluice.yaml:2:3: pipeline 'web' has no input: add 'input:' with a 'type', e.g. 'type: file'")
    }

    @Test func aPipelineWithoutOutputIsRejectedAtItsName() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input: {type: stdin}
                  api:
                    input: {type: stdin}
                    output:
                """)
                == "sluice.yaml:2:3: pipeline 'web' has no output: add 'output:' with a 'type', e.g. 'type: file'")
    }

    @Test func anEmptyPipelineIsRejectedAtItsName() {
        #expect(
            rejection("pipelines:\n  web:\n")
                == "sluice.yaml:2:3: pipeline 'web' has no input: add 'input:' with a 'type', e.g. 'type: file'")
    }

    @Test func aPluginWithoutTypeIsRejectedAtItsMapping() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input:
                      type: stdin
                    actions:
                      - type: json_decode
                      - field: type
                        equals: view
                    output:
                      type: stdout
                """)
                == "sluice.yaml:7:9: action has no 'type': add one, e.g. 'type: file'")
        #expect(
            rejection("pipelines:\n  web:\n    input:\n      path: /a\n    output: {type: stdout}\n")
                == "sluice.yaml:4:7: input has no 'type': add one, e.g. 'type: file'")
    }

    @Test func anInvalidPluginTypeIsRejectedAtTheValue() {
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: Stdin}\n    output: {type: stdout}\n")
                == "sluice.yaml:3:19: invalid plugin type 'Stdin' for input: use lowercase letters, digits and '_'")
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: stdin}\n    output:\n      type:\n")
                == "sluice.yaml:5:7: invalid plugin type '' for output: use lowercase letters, digits and '_'")
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: [a, b]}\n    output: {type: stdout}\n")
                == "sluice.yaml:3:19: 'type' of input must be a plugin name; found a sequence")
    }

    @Test func aMappingWhereAScalarIsExpectedIsRejectedAtTheMapping() {
        let expected = "takes a scalar or a list of scalars; found a mapping (nested mappings are not supported)"
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input:
                      type: file
                      path:
                        primary: /a.log
                    output: {type: stdout}
                """) == "sluice.yaml:6:9: 'path' \(expected)")
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: file, path: [/a, {b: c}]}\n    output: {type: stdout}\n")
                == "sluice.yaml:3:36: 'path' \(expected)")
        #expect(
            rejection(
                "settings:\n  cpus: {first: 0}\npipelines:\n  web: {input: {type: stdin}, output: {type: stdout}}\n")
                == "sluice.yaml:2:9: 'cpus' \(expected)")
    }

    @Test func aDuplicatePipelineNameIsRejectedAtItsFirstDefinition() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input: {type: stdin}
                    output: {type: stdout}
                  web:
                    input: {type: stdin}
                    output: {type: stdout}
                """)
                == "sluice.yaml:2:3: duplicate key 'web' in this mapping: each key and each pipeline name may appear "
                + "once; give a key several values as a list, key: [a, b]")
    }

    @Test func pipelineNamesThatYAMLTypesDifferentlyAreStillDuplicates() {
        #expect(
            rejection(
                """
                pipelines:
                  1: {input: {type: stdin}, output: {type: stdout}}
                  "1": {input: {type: stdin}, output: {type: stdout}}
                """)
                == "sluice.yaml:3:3: duplicate pipeline name '1' (first at sluice.yaml:2:3)")
    }

    @Test func keysEqualAfterNormalizingAreDuplicates() {
        #expect(
            rejection(
                """
                settings:
                  batch_size: 1
                  batch-size: 2
                pipelines:
                  web: {input: {type: stdin}, output: {type: stdout}}
                """)
                == "sluice.yaml:3:3: duplicate key 'batch-size' (first at sluice.yaml:2:3)")
    }

    @Test func nestedSequencesAreRejectedAtTheInnerSequence() {
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: file, path: [[/a, /b]]}\n    output: {type: stdout}\n")
                == "sluice.yaml:3:32: nested sequences are not supported: write the items as one flat list")
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input: {type: stdin}
                    actions:
                      - - type: json_decode
                    output: {type: stdout}
                """)
                == "sluice.yaml:5:9: nested sequences are not supported: write the items as one flat list")
        #expect(
            rejection("pipelines:\n  web:\n    input: [[{type: stdin}]]\n    output: {type: stdout}\n")
                == "sluice.yaml:3:13: nested sequences are not supported: write the items as one flat list")
    }

    @Test func anUnknownKeyInAPipelineIsRejectedAtTheKey() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    inputs:
                      type: stdin
                    output: {type: stdout}
                """)
                == "sluice.yaml:3:5: unknown key 'inputs' in pipeline 'web': "
                + "expected settings, input, actions, output or outputs")
    }

    @Test func anInvalidPipelineNameIsRejectedAtTheName() {
        #expect(
            rejection("pipelines:\n  web.v2: {input: {type: stdin}, output: {type: stdout}}\n")
                == "sluice.yaml:2:3: invalid pipeline name 'web.v2': use letters, digits, '_' and '-'")
    }

    @Test func actionsMustBeASequence() {
        #expect(
            rejection(
                """
                pipelines:
                  web:
                    input: {type: stdin}
                    actions:
                      type: json_decode
                    output: {type: stdout}
                """) == "sluice.yaml:5:7: 'actions' must be a sequence, one '- type: ...' per action; found a mapping")
    }

    @Test func severalOutputsAreListedUnderOutputsNotOutput() {
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: stdin}\n    output: [{type: stdout}]\n")
                == "sluice.yaml:4:13: 'output' must be one mapping with a 'type'; for several outputs write 'outputs:' with a sequence of them")
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: stdin}\n    output: {type: stdout}\n    outputs: [{type: devnull}]\n")
                == "sluice.yaml:5:5: pipeline 'web' has both 'output' and 'outputs': list every output under 'outputs'")
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: stdin}\n    outputs: {type: stdout}\n")
                == "sluice.yaml:4:14: 'outputs' must be a sequence, one '- type: ...' per output; found a mapping")
    }

    @Test func anInputMustBeAMapping() {
        #expect(
            rejection("pipelines:\n  web:\n    input: stdin\n    output: {type: stdout}\n")
                == "sluice.yaml:3:12: 'input' must be a mapping with a 'type', or a sequence of them; found a scalar")
        #expect(
            rejection("pipelines:\n  web:\n    input: [stdin]\n    output: {type: stdout}\n")
                == "sluice.yaml:3:13: input must be a mapping with a 'type'; found a scalar")
    }

    @Test func aKeyMustBeAScalar() {
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: stdin, [a]: b}\n    output: {type: stdout}\n")
                == "sluice.yaml:3:26: a key must be a plain scalar; found a sequence")
    }

    @Test func anOutputMustBeAMapping() {
        #expect(
            rejection("pipelines:\n  web:\n    input: {type: stdin}\n    output: stdout\n")
                == "sluice.yaml:4:13: 'output' must be a mapping with a 'type'; found a scalar")
    }

    @Test func settingsMustBeAMapping() {
        #expect(
            rejection("settings: [batch-size]\npipelines:\n  web: {input: {type: stdin}, output: {type: stdout}}\n")
                == "sluice.yaml:1:11: 'settings' must be a mapping of keys to values; found a sequence")
        #expect(
            rejection("pipelines:\n  web:\n    settings: 512\n    input: {type: stdin}\n    output: {type: stdout}\n")
                == "sluice.yaml:3:15: 'settings' of pipeline 'web' must be a mapping of keys to values; found a scalar")
    }

    @Test func aPipelineMustBeAMapping() {
        #expect(
            rejection("pipelines:\n  web: stdin\n")
                == "sluice.yaml:2:8: pipeline 'web' must be a mapping of keys to values; found a scalar")
    }
}
