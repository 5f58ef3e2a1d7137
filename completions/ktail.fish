complete --keep-order --exclusive --command ktail --arguments "(COMPLETE=fish ktail -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
