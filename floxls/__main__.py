from floxls.cli import main

raise SystemExit(main())
