"""Growing the toolset: which tasks the tools serve, and a new tool from a template.

- `copilot toolset propose` (`propose`, `report`): Speech-Copilot's step 1 on a pool of task instructions: sub-tasks,
  grouped into modules, each module mapped onto the registry's tools or marked uncovered.
- `copilot tools new NAME` (`new`): a one-file tool in the house style, with a test that runs it on a real recording.
"""
