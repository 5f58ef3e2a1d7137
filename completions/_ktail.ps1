
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'ktail' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'ktail'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'ktail' {
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Label selector sent to the API server, e.g. ''app=web,tier!=db''')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Label selector sent to the API server, e.g. ''app=web,tier!=db''')
            [CompletionResult]::new('--field-selector', '--field-selector', [CompletionResultType]::ParameterName, 'Field selector sent to the API server, e.g. ''spec.nodeName=node-1''')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace(s) to watch; repeat or separate with commas')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace(s) to watch; repeat or separate with commas')
            [CompletionResult]::new('--namespace-regex', '--namespace-regex', [CompletionResultType]::ParameterName, 'Watch every namespace whose name matches this regex, including ones created later')
            [CompletionResult]::new('--namespace-selector', '--namespace-selector', [CompletionResultType]::ParameterName, 'Watch every namespace with these labels (a label selector), including ones created later')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Container name regex; only matching containers are tailed')
            [CompletionResult]::new('--container', '--container', [CompletionResultType]::ParameterName, 'Container name regex; only matching containers are tailed')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Container name regex to skip; repeatable')
            [CompletionResult]::new('--exclude-container', '--exclude-container', [CompletionResultType]::ParameterName, 'Container name regex to skip; repeatable')
            [CompletionResult]::new('--exclude-pod', '--exclude-pod', [CompletionResultType]::ParameterName, 'Pod name regex to skip; repeatable')
            [CompletionResult]::new('--node', '--node', [CompletionResultType]::ParameterName, 'Only pods on this node (sent to the API server as spec.nodeName)')
            [CompletionResult]::new('--condition', '--condition', [CompletionResultType]::ParameterName, 'Only pods with this condition, e.g. ''Ready=false'' (value defaults to true)')
            [CompletionResult]::new('--container-state', '--container-state', [CompletionResultType]::ParameterName, 'Container states to tail: running, waiting, terminated, all; repeat or comma list')
            [CompletionResult]::new('--init-containers', '--init-containers', [CompletionResultType]::ParameterName, 'Tail init containers too')
            [CompletionResult]::new('--ephemeral-containers', '--ephemeral-containers', [CompletionResultType]::ParameterName, 'Tail ephemeral (debug) containers too')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Keep only lines whose message matches any of these regexes; repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Keep only lines whose message matches any of these regexes; repeatable')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Drop lines whose message matches any of these regexes; repeatable')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Drop lines whose message matches any of these regexes; repeatable')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Colour matches of these regexes in the message, without filtering; repeatable')
            [CompletionResult]::new('--highlight', '--highlight', [CompletionResultType]::ParameterName, 'Colour matches of these regexes in the message, without filtering; repeatable')
            [CompletionResult]::new('--level', '--level', [CompletionResultType]::ParameterName, 'Keep only lines at this level or above: trace, debug, info, warn, error, fatal')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Only lines newer than this, e.g. 5s, 2m, 1h30m')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only lines newer than this, e.g. 5s, 2m, 1h30m')
            [CompletionResult]::new('--since-time', '--since-time', [CompletionResultType]::ParameterName, 'Only lines at or after this time (RFC3339, e.g. 2026-11-27T10:00:00Z); replaces --since')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only lines up to this time: RFC3339 (2026-11-27T10:00:00Z) or a duration ago (5m)')
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Lines from the end of each log to show first; -1 shows all')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Print each line''s timestamp: ''default'' (RFC3339, nanoseconds) or ''short''')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Print each line''s timestamp: ''default'' (RFC3339, nanoseconds) or ''short''')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'Time zone for --timestamps, an IANA name such as ''Europe/Berlin'' or ''UTC'' (default: local)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Render each line with this template (minijinja syntax), e.g. ''{{ pod }} {{ message }}''')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'Read the --template from this file (wins over --template)')
            [CompletionResult]::new('--template-file', '--template-file', [CompletionResultType]::ParameterName, 'Read the --template from this file (wins over --template)')
            [CompletionResult]::new('--pod-colors', '--pod-colors', [CompletionResultType]::ParameterName, 'Colours for pod names: a comma list of SGR codes, e.g. ''91,92,93'' or ''38;2;255;97;136''')
            [CompletionResult]::new('--container-colors', '--container-colors', [CompletionResultType]::ParameterName, 'Colours for container names, like --pod-colors and as many (default: --pod-colors)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours')
            [CompletionResult]::new('--output-dir', '--output-dir', [CompletionResultType]::ParameterName, 'Also write each container''s log to DIR/NAMESPACE/POD/CONTAINER.log')
            [CompletionResult]::new('--sort-window', '--sort-window', [CompletionResultType]::ParameterName, 'With --sort while following: how long a line may wait for earlier lines, 10ms to 10s')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Also print the Kubernetes events of the selected pods, in the output: ''warning'' or ''all''')
            [CompletionResult]::new('--silence-timeout', '--silence-timeout', [CompletionResultType]::ParameterName, 'Re-open a follow stream that has delivered nothing for this long; 0 never does')
            [CompletionResult]::new('--max-log-requests', '--max-log-requests', [CompletionResultType]::ParameterName, 'Maximum number of log streams open at once; -1 means 50 when following, 5 with --no-follow')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use (default: the current context); repeat it or give a comma list to follow several clusters at once')
            [CompletionResult]::new('--context-regex', '--context-regex', [CompletionResultType]::ParameterName, 'Follow every kubeconfig context whose name matches this regex')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Username to impersonate for the operation, as kubectl --as')
            [CompletionResult]::new('--as-group', '--as-group', [CompletionResultType]::ParameterName, 'Group to impersonate for the operation, with --as; repeatable, as kubectl --as-group')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read default flag values from this TOML file (env: KTAIL_CONFIG)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Watch pods in every namespace (overrides --namespace)')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Watch pods in every namespace (overrides --namespace)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Print the previous instance''s log of every selected container that has one')
            [CompletionResult]::new('--previous', '--previous', [CompletionResultType]::ParameterName, 'Print the previous instance''s log of every selected container that has one')
            [CompletionResult]::new('--no-follow', '--no-follow', [CompletionResultType]::ParameterName, 'Print the logs that exist now and exit instead of following')
            [CompletionResult]::new('--until-done', '--until-done', [CompletionResultType]::ParameterName, 'Follow until the selection is done, then exit with its status (7 when it failed)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Colour container names by their own name''s hash instead of their pod''s pair')
            [CompletionResult]::new('--diff-container', '--diff-container', [CompletionResultType]::ParameterName, 'Colour container names by their own name''s hash instead of their pod''s pair')
            [CompletionResult]::new('--raw-escapes', '--raw-escapes', [CompletionResultType]::ParameterName, 'Pass control characters and escape sequences in log lines to the terminal as they are')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'With --output-dir: write log lines only to the files, not to stdout')
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'Print the lines of all containers in the order of their timestamps')
            [CompletionResult]::new('--only-log-lines', '--only-log-lines', [CompletionResultType]::ParameterName, 'Print only log lines: no notices on stderr (warnings and --until-done''s failures are still shown)')
            [CompletionResult]::new('--stdin', '--stdin', [CompletionResultType]::ParameterName, 'Read lines from standard input instead of a cluster, and filter and format them')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
