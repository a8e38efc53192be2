export interface Shot {
  id: string;
  workspace_id: string;
  idx: number;
  scene_id: string | null;
  duration_s: number | null;
  spec: Record<string, any>;
  selected_node_id: string | null;
  selected_asset_id: string | null;
  selected_url: string | null;
  thumbnail_url: string | null;
  version: string;
}

export interface Scene {
  id: string;
  idx: number;
  title: string;
}

export interface Storyboard {
  workspace: { id: string; title: string; style: string | null; meta: Record<string, any>; version: string };
  scenes: Scene[];
  shots: Shot[];
  total_duration_s: number;
}

export interface Stage {
  status: string;
  node_id: string | null;
  count: number;
  stale: boolean;
  reason: string | null;
  error: { code: string; message: string } | null;
}

export interface ShotStages {
  work_item_id: string;
  idx: number;
  grid: Stage;
  clip: Stage;
  voice: Stage;
  cost: number | null;
  gpu_seconds: number;
  tasks: number;
}

export interface Cut {
  node_id: string;
  mode: string;
  task_id: string | null;
  created_at: string;
  duration_s: number | null;
  asset_id: string | null;
  content_url: string | null;
  poster_url: string | null;
  shots: { work_item_id: string; idx?: number; video_node_id: string; voice_node_id: string | null }[];
  missing_shots: { work_item_id: string; idx: number; reason: string }[];
  stale: boolean;
  reasons: string[];
}

export interface Stages {
  shots: ShotStages[];
  cuts: Cut[];
}

export interface TaskRow {
  id: string;
  work_item_id: string | null;
  type: string;
  status: string;
  error: { code: string; message: string } | null;
  progress: number;
  workflow_id: string | null;
  run_id: string | null;
  created_at: string;
  cost: number | null;
  result_url: string | null;
  outputs: { node_id: string; asset_id: string; url: string; cell: number | null; type: string }[];
}

export interface Asset {
  id: string;
  content_url: string | null;
  thumbnail_url: string | null;
  mime: string;
  kind: string;
}

export interface NodeRow {
  id: string;
  type: string;
  status: string;
  cell: number | null;
  parent_id: string | null;
  track_id: string | null;
  payload: Record<string, any>;
  asset: Asset | null;
  created_at: string;
}

export interface Track {
  id: string;
  name: string;
  is_main: boolean;
  created_from_node_id: string | null;
}

/** What one applied action touched (the API's `touched`): each becomes a link in the chat. */
export interface Touched {
  shots: { work_item_id: string; idx: number | null }[];
  nodes: { node_id: string; type: string; work_item_id: string | null; cell: number | null }[];
  tasks: { task_id: string; type: string; work_item_id: string | null; workflow_id: string | null }[];
  exports: { task_id: string }[];
}

/** Where a result link leads: a shot card, the Pro drawer at an image, a queue row, the player, a download. */
export type OpenTarget =
  | { kind: "shot"; id: string }
  | { kind: "node"; id: string; workItemId: string }
  | { kind: "task"; id: string; type: string }
  | { kind: "export"; id: string };

export interface Estimate {
  cost_units: number;
  gpu_seconds: number;
  llm_calls: number;
  cost_usd: number;
  gpu_second_usd: number;
  llm_call_usd: number;
}
