
use builtin;
use str;

set edit:completion:arg-completer[ktail] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'ktail'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'ktail'= {
            cand -l 'Label selector sent to the API server, e.g. ''app=web,tier!=db'''
            cand --selector 'Label selector sent to the API server, e.g. ''app=web,tier!=db'''
            cand --field-selector 'Field selector sent to the API server, e.g. ''spec.nodeName=node-1'''
            cand -n 'Namespace(s) to watch; repeat or separate with commas'
            cand --namespace 'Namespace(s) to watch; repeat or separate with commas'
            cand --namespace-regex 'Watch every namespace whose name matches this regex, including ones created later'
            cand --namespace-selector 'Watch every namespace with these labels (a label selector), including ones created later'
            cand -c 'Container name regex; only matching containers are tailed'
            cand --container 'Container name regex; only matching containers are tailed'
            cand -E 'Container name regex to skip; repeatable'
            cand --exclude-container 'Container name regex to skip; repeatable'
            cand --exclude-pod 'Pod name regex to skip; repeatable'
            cand --node 'Only pods on this node (sent to the API server as spec.nodeName)'
            cand --condition 'Only pods with this condition, e.g. ''Ready=false'' (value defaults to true)'
            cand --container-state 'Container states to tail: running, waiting, terminated, all; repeat or comma list'
            cand --init-containers 'Tail init containers too'
            cand --ephemeral-containers 'Tail ephemeral (debug) containers too'
            cand -i 'Keep only lines whose message matches any of these regexes; repeatable'
            cand --include 'Keep only lines whose message matches any of these regexes; repeatable'
            cand -e 'Drop lines whose message matches any of these regexes; repeatable'
            cand --exclude 'Drop lines whose message matches any of these regexes; repeatable'
            cand -H 'Colour matches of these regexes in the message, without filtering; repeatable'
            cand --highlight 'Colour matches of these regexes in the message, without filtering; repeatable'
            cand --level 'Keep only lines at this level or above: trace, debug, info, warn, error, fatal'
            cand -s 'Only lines newer than this, e.g. 5s, 2m, 1h30m'
            cand --since 'Only lines newer than this, e.g. 5s, 2m, 1h30m'
            cand --since-time 'Only lines at or after this time (RFC3339, e.g. 2026-11-27T10:00:00Z); replaces --since'
            cand --until 'Only lines up to this time: RFC3339 (2026-11-27T10:00:00Z) or a duration ago (5m)'
            cand --tail 'Lines from the end of each log to show first; -1 shows all'
            cand -t 'Print each line''s timestamp: ''default'' (RFC3339, nanoseconds) or ''short'''
            cand --timestamps 'Print each line''s timestamp: ''default'' (RFC3339, nanoseconds) or ''short'''
            cand --timezone 'Time zone for --timestamps, an IANA name such as ''Europe/Berlin'' or ''UTC'' (default: local)'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --template 'Render each line with this template (minijinja syntax), e.g. ''{{ pod }} {{ message }}'''
            cand -T 'Read the --template from this file (wins over --template)'
            cand --template-file 'Read the --template from this file (wins over --template)'
            cand --pod-colors 'Colours for pod names: a comma list of SGR codes, e.g. ''91,92,93'' or ''38;2;255;97;136'''
            cand --container-colors 'Colours for container names, like --pod-colors and as many (default: --pod-colors)'
            cand --color 'When to use colours'
            cand --output-dir 'Also write each container''s log to DIR/NAMESPACE/POD/CONTAINER.log'
            cand --sort-window 'With --sort while following: how long a line may wait for earlier lines, 10ms to 10s'
            cand --events 'Also print the Kubernetes events of the selected pods, in the output: ''warning'' or ''all'''
            cand --silence-timeout 'Re-open a follow stream that has delivered nothing for this long; 0 never does'
            cand --max-log-requests 'Maximum number of log streams open at once; -1 means 50 when following, 5 with --no-follow'
            cand --context 'Kubeconfig context to use (default: the current context); repeat it or give a comma list to follow several clusters at once'
            cand --context-regex 'Follow every kubeconfig context whose name matches this regex'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)'
            cand --as 'Username to impersonate for the operation, as kubectl --as'
            cand --as-group 'Group to impersonate for the operation, with --as; repeatable, as kubectl --as-group'
            cand --config 'Read default flag values from this TOML file (env: KTAIL_CONFIG)'
            cand -A 'Watch pods in every namespace (overrides --namespace)'
            cand --all-namespaces 'Watch pods in every namespace (overrides --namespace)'
            cand -p 'Print the previous instance''s log of every selected container that has one'
            cand --previous 'Print the previous instance''s log of every selected container that has one'
            cand --no-follow 'Print the logs that exist now and exit instead of following'
            cand --until-done 'Follow until the selection is done, then exit with its status (7 when it failed)'
            cand -d 'Colour container names by their own name''s hash instead of their pod''s pair'
            cand --diff-container 'Colour container names by their own name''s hash instead of their pod''s pair'
            cand --raw-escapes 'Pass control characters and escape sequences in log lines to the terminal as they are'
            cand --files-only 'With --output-dir: write log lines only to the files, not to stdout'
            cand --sort 'Print the lines of all containers in the order of their timestamps'
            cand --only-log-lines 'Print only log lines: no notices on stderr (warnings and --until-done''s failures are still shown)'
            cand --stdin 'Read lines from standard input instead of a cluster, and filter and format them'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
