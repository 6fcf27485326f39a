/** The filters and the scope, each a labelled control; every change is written to the URL by the app. */
import { SEVERITIES } from '../model.js';
import { DEFAULT_VIEW, type ViewState } from '../view.js';

export interface FiltersProps {
  view: ViewState;
  onChange(change: Partial<ViewState>): void;
}

const NAME = /^[A-Za-z0-9._:-]{1,128}$/;

function Select<T extends string>(props: { label: string; name: string; value: T; options: readonly [T, string][]; onChange(value: T): void }) {
  return (
    <div class="field">
      <label for={`filter-${props.name}`}>{props.label}</label>
      <select id={`filter-${props.name}`} name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value as T)}>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A project or domain name: taken when it is valid and the field is left or Enter is pressed. */
function NameInput(props: { label: string; name: string; value: string; onChange(value: string): void }) {
  return (
    <div class="field">
      <label for={`filter-${props.name}`}>{props.label}</label>
      <input
        id={`filter-${props.name}`}
        name={props.name}
        value={props.value}
        pattern="[A-Za-z0-9._:\-]{1,128}"
        required
        spellcheck={false}
        onChange={(e) => {
          const v = e.currentTarget.value.trim();
          if (NAME.test(v)) props.onChange(v);
        }}
      />
    </div>
  );
}

const SEVERITY_OPTIONS = [['', 'any'], ...SEVERITIES.map((s) => [s, s])] as [string, string][];

export function Filters({ view, onChange }: FiltersProps) {
  return (
    <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <NameInput label="Project" name="project" value={view.project} onChange={(project) => onChange({ project })} />
      <NameInput label="Domain" name="domain" value={view.domain} onChange={(domain) => onChange({ domain })} />
      <Select
        label="Status"
        name="status"
        value={view.status}
        options={[
          ['ACTIVATED', 'active'],
          ['CLEARED', 'cleared'],
          ['all', 'all'],
        ]}
        onChange={(status) => onChange({ status })}
      />
      <Select label="Severity" name="severity" value={view.severity} options={SEVERITY_OPTIONS as [ViewState['severity'], string][]} onChange={(severity) => onChange({ severity })} />
      <Select
        label="At least"
        name="minSeverity"
        value={view.minSeverity}
        options={SEVERITY_OPTIONS as [ViewState['minSeverity'], string][]}
        onChange={(minSeverity) => onChange({ minSeverity })}
      />
      <Select
        label="Acknowledged"
        name="acknowledged"
        value={view.acknowledged}
        options={[
          ['', 'any'],
          ['true', 'yes'],
          ['false', 'no'],
        ]}
        onChange={(acknowledged) => onChange({ acknowledged })}
      />
      <div class="field">
        <label for="filter-id">Alarm id</label>
        <input id="filter-id" name="id" type="search" value={view.id} maxLength={128} onInput={(e) => onChange({ id: e.currentTarget.value })} />
      </div>
      <div class="field">
        <label for="filter-source">Source</label>
        <input id="filter-source" name="source" type="search" value={view.source} maxLength={256} onInput={(e) => onChange({ source: e.currentTarget.value })} />
      </div>
      <label class="check">
        <input type="checkbox" name="group" checked={view.group} onChange={(e) => onChange({ group: e.currentTarget.checked })} />
        Group by id
      </label>
      <button
        type="button"
        class="quiet"
        onClick={() =>
          onChange({ status: DEFAULT_VIEW.status, severity: '', minSeverity: '', acknowledged: '', id: '', source: '' })
        }
      >
        Reset filters
      </button>
    </form>
  );
}
