// JSON Schema of the config file (input side: durations are strings), for editor completion.
import { z } from 'zod';
import { configSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://github.com/lbagent/lbagent/docs/lbagent.schema.json',
    title: 'lbagent configuration',
  };
}
