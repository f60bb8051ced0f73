(module (func (export "pred_eval") (result i32) i32.const 0))
