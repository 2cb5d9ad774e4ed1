/**
 * Already-decoded OTel span data, independent of the wire format (OTLP protobuf or JSON).
 * Ids are lowercase hex; times are nanoseconds since the Unix epoch as bigint (they exceed 2^53).
 */

/** OTLP AnyValue after decoding: kvlist becomes an object, bytes a Uint8Array, int64 a number or bigint. */
export type AttrValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | readonly AttrValue[]
  | { readonly [key: string]: AttrValue };

export type Attributes = Readonly<Record<string, AttrValue>>;

export interface OtelEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Attributes;
}

/** OTLP status code: 0 unset, 1 ok, 2 error (the names are accepted too). */
export interface OtelStatus {
  code: 0 | 1 | 2 | 'UNSET' | 'OK' | 'ERROR';
  message?: string;
}

export interface OtelSpan {
  /** 32 hex characters. */
  traceId: string;
  /** 16 hex characters. */
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind (0..5); kept as an attribute, not interpreted. */
  kind?: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events?: readonly OtelEvent[];
  status?: OtelStatus;
  /** Resource attributes of the span's resource (service.name...). */
  resource?: Attributes;
}
