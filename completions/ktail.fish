complete -c ktail -s l -l selector -d 'Label selector sent to the API server, e.g. \'app=web,tier!=db\'' -r
complete -c ktail -l field-selector -d 'Field selector sent to the API server, e.g. \'spec.nodeName=node-1\'' -r
complete -c ktail -s n -l namespace -d 'Namespace(s) to watch; repeat or separate with commas' -r
complete -c ktail -l namespace-regex -d 'Watch every namespace whose name matches this regex, including ones created later' -r
complete -c ktail -l namespace-selector -d 'Watch every namespace with these labels (a label selector), including ones created later' -r
complete -c ktail -s c -l container -d 'Container name regex; only matching containers are tailed' -r
complete -c ktail -s E -l exclude-container -d 'Container name regex to skip; repeatable' -r
complete -c ktail -l exclude-pod -d 'Pod name regex to skip; repeatable' -r
complete -c ktail -l node -d 'Only pods on this node (sent to the API server as spec.nodeName)' -r
complete -c ktail -l condition -d 'Only pods with this condition, e.g. \'Ready=false\' (value defaults to true)' -r
complete -c ktail -l container-state -d 'Container states to tail: running, waiting, terminated, all; repeat or comma list' -r
complete -c ktail -l init-containers -d 'Tail init containers too' -r -f -a "true\t''
false\t''"
complete -c ktail -l ephemeral-containers -d 'Tail ephemeral (debug) containers too' -r -f -a "true\t''
false\t''"
complete -c ktail -s i -l include -d 'Keep only lines whose message matches any of these regexes; repeatable' -r
complete -c ktail -s e -l exclude -d 'Drop lines whose message matches any of these regexes; repeatable' -r
complete -c ktail -s H -l highlight -d 'Colour matches of these regexes in the message, without filtering; repeatable' -r
complete -c ktail -l level -d 'Keep only lines at this level or above: trace, debug, info, warn, error, fatal' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''"
complete -c ktail -s s -l since -d 'Only lines newer than this, e.g. 5s, 2m, 1h30m' -r
complete -c ktail -l since-time -d 'Only lines at or after this time (RFC3339, e.g. 2026-11-27T10:00:00Z); replaces --since' -r
complete -c ktail -l until -d 'Only lines up to this time: RFC3339 (2026-11-27T10:00:00Z) or a duration ago (5m)' -r
complete -c ktail -l tail -d 'Lines from the end of each log to show first; -1 shows all' -r
complete -c ktail -s t -l timestamps -d 'Print each line\'s timestamp: \'default\' (RFC3339, nanoseconds) or \'short\'' -r -f -a "default\t'2006-01-02T15:04:05.000000000+01:00, in --timezone'
short\t'01-02 15:04:05'"
complete -c ktail -l timezone -d 'Time zone for --timestamps, an IANA name such as \'Europe/Berlin\' or \'UTC\' (default: local)' -r
complete -c ktail -s o -l output -d 'Output format' -r -f -a "default\t'`pod container message`, coloured per pod'
raw\t'The message alone'
json\t'One JSON object per line with stern\'s keys'
extjson\t'`{"pod": …, "container": …, "message": …}`, the message embedded when it is JSON'
ppextjson\t'extjson over several lines, indented'"
complete -c ktail -l template -d 'Render each line with this template (minijinja syntax), e.g. \'{{ pod }} {{ message }}\'' -r
complete -c ktail -s T -l template-file -d 'Read the --template from this file (wins over --template)' -r -F
complete -c ktail -l pod-colors -d 'Colours for pod names: a comma list of SGR codes, e.g. \'91,92,93\' or \'38;2;255;97;136\'' -r
complete -c ktail -l container-colors -d 'Colours for container names, like --pod-colors and as many (default: --pod-colors)' -r
complete -c ktail -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ktail -l output-dir -d 'Also write each container\'s log to DIR/NAMESPACE/POD/CONTAINER.log' -r -F
complete -c ktail -l sort-window -d 'With --sort while following: how long a line may wait for earlier lines, 10ms to 10s' -r
complete -c ktail -l events -d 'Also print the Kubernetes events of the selected pods, in the output: \'warning\' or \'all\'' -r -f -a "warning\t'Warning events only'
all\t'Normal and Warning events'"
complete -c ktail -l silence-timeout -d 'Re-open a follow stream that has delivered nothing for this long; 0 never does' -r
complete -c ktail -l max-log-requests -d 'Maximum number of log streams open at once; -1 means 50 when following, 5 with --no-follow' -r
complete -c ktail -l context -d 'Kubeconfig context to use (default: the current context); repeat it or give a comma list to follow several clusters at once' -r
complete -c ktail -l context-regex -d 'Follow every kubeconfig context whose name matches this regex' -r
complete -c ktail -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)' -r -F
complete -c ktail -l as -d 'Username to impersonate for the operation, as kubectl --as' -r
complete -c ktail -l as-group -d 'Group to impersonate for the operation, with --as; repeatable, as kubectl --as-group' -r
complete -c ktail -l config -d 'Read default flag values from this TOML file (env: KTAIL_CONFIG)' -r -F
complete -c ktail -s A -l all-namespaces -d 'Watch pods in every namespace (overrides --namespace)'
complete -c ktail -s p -l previous -d 'Print the previous instance\'s log of every selected container that has one'
complete -c ktail -l no-follow -d 'Print the logs that exist now and exit instead of following'
complete -c ktail -l until-done -d 'Follow until the selection is done, then exit with its status (7 when it failed)'
complete -c ktail -s d -l diff-container -d 'Colour container names by their own name\'s hash instead of their pod\'s pair'
complete -c ktail -l raw-escapes -d 'Pass control characters and escape sequences in log lines to the terminal as they are'
complete -c ktail -l files-only -d 'With --output-dir: write log lines only to the files, not to stdout'
complete -c ktail -l sort -d 'Print the lines of all containers in the order of their timestamps'
complete -c ktail -l only-log-lines -d 'Print only log lines: no notices on stderr (warnings and --until-done\'s failures are still shown)'
complete -c ktail -l stdin -d 'Read lines from standard input instead of a cluster, and filter and format them'
complete -c ktail -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -s V -l version -d 'Print version'
