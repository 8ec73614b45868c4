
#compdef lwa

_lwa_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _LWA_COMPLETE=complete_zsh lwa)
}

compdef _lwa_completion lwa

